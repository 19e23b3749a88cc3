//! The table the benchmark prints.

pub struct Row {
    pub name: String,
    pub ours: String,
    pub baseline: String,
    pub ratio: f64,
    /// The target as the issue states it, and whether it is met.
    pub target: Option<(&'static str, bool)>,
}

/// Pairs of measurements, ours and the baseline's, taken close together.
#[derive(Default)]
pub struct Pairs {
    ours: Vec<f64>,
    theirs: Vec<f64>,
    ratios: Vec<f64>,
}

impl Pairs {
    /// Whether pair `i` measures ours first: alternating, so that no order
    /// effect favours one side.
    pub fn ours_first(i: usize) -> bool {
        i.is_multiple_of(2)
    }

    pub fn push(&mut self, ours: f64, theirs: f64) {
        self.ours.push(ours);
        self.theirs.push(theirs);
        self.ratios.push(ours / theirs);
    }

    /// The median of each side and of the per-pair ratios.
    pub fn medians(self) -> (f64, f64, f64) {
        (median(self.ours), median(self.theirs), median(self.ratios))
    }
}

/// The `p` quantile (0 to 1) by nearest rank, 0 when there are no values;
/// sorts them.
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    values[((n as f64 * p).ceil() as usize).clamp(1, n) - 1]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub fn print(rows: &[Row]) {
    println!("| benchmark | pg_socketio | baseline | ratio | target |");
    println!("|---|---|---|---:|---|");
    for row in rows {
        let target = match row.target {
            Some((text, true)) => format!("{text} ✔"),
            Some((text, false)) => format!("{text} ✘"),
            None => "—".into(),
        };
        println!(
            "| {} | {} | {} | {:.2} | {} |",
            row.name, row.ours, row.baseline, row.ratio, target
        );
    }
}

/// `12345.6` → `12,346`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
