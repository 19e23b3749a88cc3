//! The table the benchmark prints.

pub struct Row {
    pub name: String,
    pub ours: String,
    pub baseline: String,
    pub ratio: f64,
    /// The lowest and highest ratio of the pairs the median is of.
    pub spread: Option<(f64, f64)>,
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
    pub fn medians(self) -> Medians {
        let low = self.ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = self
            .ratios
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        Medians {
            ours: median(self.ours),
            theirs: median(self.theirs),
            ratio: median(self.ratios),
            spread: (low, high),
        }
    }
}

/// What [`Pairs::medians`] gives.
pub struct Medians {
    pub ours: f64,
    pub theirs: f64,
    pub ratio: f64,
    /// The lowest and highest per-pair ratio.
    pub spread: (f64, f64),
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
    println!("| benchmark | pg_socketio | baseline | ratio (lowest–highest pair) | target |");
    println!("|---|---|---|---:|---|");
    for row in rows {
        let target = match row.target {
            Some((text, true)) => format!("{text} ✔"),
            Some((text, false)) => format!("{text} ✘"),
            None => "—".into(),
        };
        let ratio = match row.spread {
            Some((low, high)) => format!("{:.2} ({low:.2}–{high:.2})", row.ratio),
            None => format!("{:.2}", row.ratio),
        };
        println!(
            "| {} | {} | {} | {ratio} | {} |",
            row.name, row.ours, row.baseline, target
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
