//! Amounts as people read them, with their currency always, and the
//! words for a figure Azure has not reported yet (never `$0.00`).

/// What is shown where Azure has no figure.
pub const NO_DATA: &str = "no data yet (Azure reports cost with up to 24 h delay)";

/// `amount` in `currency`: `$12.34` for dollars, `12.34 EUR` otherwise.
pub fn amount(amount: f64, currency: &str) -> String {
    match currency {
        "USD" => format!("${amount:.2}"),
        "" => format!("{amount:.2}"),
        c => format!("{amount:.2} {c}"),
    }
}
