//! Log set-up: one line per record, control characters escaped so no value can forge a line.

use std::io::Write;

/// Level and filters from `HOTLINE_LOG`, then `RUST_LOG`, then the configuration.
pub fn init(configured: &str) {
    let filter = std::env::var("HOTLINE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| configured.to_string());
    env_logger::Builder::new()
        .parse_filters(&filter)
        .format(|buf, record| {
            writeln!(
                buf,
                "{} {:<5} {}: {}",
                buf.timestamp_micros(),
                record.level(),
                record.target(),
                escape(&record.args().to_string())
            )
        })
        .init();
}

/// Escapes CR, LF and every other control character (as \n, \u{1b}...).
pub fn escape(message: &str) -> String {
    if !message.chars().any(char::is_control) {
        return message.to_string();
    }
    message
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A panic message can quote data (an `expect` on a value, an index out of bounds with its
/// index); only the location is logged.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "unknown location".into());
        log::error!("internal error (panic) at {location}; message withheld");
        eprintln!("hotline: internal error (panic) at {location}; message withheld");
    }));
}
