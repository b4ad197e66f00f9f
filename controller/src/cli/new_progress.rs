//! What `azlin new` shows while VMs are made: on a terminal, one indicatif
//! bar per VM (spinner, elapsed time, current stage), with each finished
//! stage and its time printed above the bars so they stay on screen; off a
//! terminal, the same stages as plain `VM: stage` lines for logs and
//! scripts. Not the request itself ([`super::run_command`] sends it).

use std::{collections::BTreeMap, io::IsTerminal, time::Duration};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

pub struct NewProgress {
    /// `None` off a terminal.
    bars: Option<(MultiProgress, BTreeMap<String, ProgressBar>)>,
}

impl NewProgress {
    pub fn new() -> Self {
        let bars = std::io::stderr()
            .is_terminal()
            .then(|| (MultiProgress::new(), BTreeMap::new()));
        Self { bars }
    }

    /// A stage `message` of `vm` (the daemon's progress line).
    pub fn stage(&mut self, vm: &str, message: &str) {
        let Some((multi, bars)) = &mut self.bars else {
            eprintln!("{vm}: {message}");
            return;
        };
        let bar = bars.entry(vm.to_string()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<16} [{elapsed:>4}] {wide_msg}")
                    .expect("a valid template")
                    .tick_strings(&["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "✓"]),
            );
            bar.set_prefix(vm.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let _ = multi.println(format!("{vm}: {message}"));
        if message.starts_with("enrolled and connected") {
            bar.finish_with_message(message.to_string());
        } else {
            bar.set_message(message.to_string());
        }
    }

    /// The request ended: bars still going stop where they are (their VM
    /// failed or was late; the error says which).
    pub fn end(self) {
        if let Some((_, bars)) = self.bars {
            for bar in bars.values().filter(|b| !b.is_finished()) {
                bar.abandon();
            }
        }
    }
}
