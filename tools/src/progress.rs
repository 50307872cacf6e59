//! Progress bars on standard error (indicatif draws nothing when it is not a terminal, so
//! scripts and tests see only the summaries).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `total` bytes of input, or a spinner counting items when the total is unknown
/// (standard input).
pub fn bytes(total: Option<u64>, what: &str) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}")
                .expect("a valid template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec} {msg}").expect("a valid template"),
        ),
    };
    bar.set_message(what.to_string());
    bar
}

/// A spinner counting `unit`s.
pub fn counter(unit: &str) -> ProgressBar {
    ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template(&format!("{{spinner}} {{pos}} {unit} {{per_sec}} {{elapsed}}"))
            .expect("a valid template"),
    )
}
