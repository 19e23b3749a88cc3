//! Reads what `cargo bench -p pg_socketio_protocol --bench codec` measured
//! (criterion's estimates) into the table.

use std::path::{Path, PathBuf};

use crate::report::{thousands, Row};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Messages/s of criterion benchmark `codec/<name>`.
fn per_second(name: &str) -> Option<f64> {
    let path = target_dir().join(format!("criterion/codec/{name}/new/estimates.json"));
    let estimates: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let ns = estimates["mean"]["point_estimate"].as_f64()?;
    Some(1e9 / ns)
}

pub fn rows(rows: &mut Vec<Row>) {
    let (Some(decode), Some(attachment), Some(encode), Some(baseline)) = (
        per_second("decode_inline"),
        per_second("decode_attachment_1k_binary"),
        per_second("encode_inline"),
        per_second("baseline_serde_json_value"),
    ) else {
        eprintln!(
            "no codec estimates: run `cargo bench -p pg_socketio_protocol --bench codec` first"
        );
        return;
    };
    let json = format!("serde_json::Value parse: {}/s", thousands(baseline));
    rows.push(Row {
        name: "codec: decode an inline broadcast, one core".into(),
        ours: format!("{}/s", thousands(decode)),
        baseline: json.clone(),
        ratio: decode / baseline,
        spread: None,
        target: Some(("≥ 200,000/s", decode >= 200_000.0)),
    });
    rows.push(Row {
        name: "codec: decode an attachment (1 kB binary)".into(),
        ours: format!("{}/s", thousands(attachment)),
        baseline: json.clone(),
        ratio: attachment / baseline,
        spread: None,
        target: None,
    });
    rows.push(Row {
        name: "codec: encode an inline broadcast".into(),
        ours: format!("{}/s", thousands(encode)),
        baseline: json,
        ratio: encode / baseline,
        spread: None,
        target: None,
    });
    if let (Some(rows_ours), Some(rows_serde)) = (
        per_second("encode_attachment_1000_rows"),
        per_second("baseline_serde_msgpack_1000_rows"),
    ) {
        rows.push(Row {
            name: "codec: transcode a JSON argument of 1,000 rows (81 kB) for the attachment table"
                .into(),
            ours: format!("{}/s", thousands(rows_ours)),
            baseline: format!(
                "serde_json::Value parse + rmp-serde write: {}/s",
                thousands(rows_serde)
            ),
            ratio: rows_ours / rows_serde,
            spread: None,
            target: None,
        });
    }
    if let (Some(written), Some(transcoded)) = (
        per_second("statement_rows_1000_written"),
        per_second("statement_rows_1000_transcoded"),
    ) {
        rows.push(Row {
            name: "codec: a statement-mode message of 1,000 UPDATEd rows from their columns' \
                   values, for the attachment table"
                .into(),
            ours: format!("JSON and MessagePack written: {}/s", thousands(written)),
            baseline: format!(
                "JSON written, then transcoded (before): {}/s",
                thousands(transcoded)
            ),
            ratio: written / transcoded,
            spread: None,
            target: None,
        });
    }
    if let (Some(ours), Some(rmpv)) = (
        per_second("decode_attachment_1000_rows"),
        per_second("baseline_rmpv_1000_rows"),
    ) {
        rows.push(Row {
            name: "codec: decode that statement message (the listener's side)".into(),
            ours: format!("{}/s", thousands(ours)),
            baseline: format!("rmpv::decode::read_value: {}/s", thousands(rmpv)),
            ratio: ours / rmpv,
            spread: None,
            target: None,
        });
    }
}
