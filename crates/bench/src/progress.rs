//! Progress bars on stderr, shown only when stderr is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Whether to draw progress.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    enabled: bool,
}

impl Ui {
    /// Progress when stderr is a terminal and `wanted`.
    pub fn auto(wanted: bool) -> Self {
        Self {
            enabled: wanted && std::io::stderr().is_terminal(),
        }
    }

    pub fn hidden() -> Self {
        Self { enabled: false }
    }

    /// A bar for a phase of `len` units: operations, or milliseconds for a timed phase.
    pub fn bar(&self, title: &str, len: u64, timed: bool) -> Bar {
        if !self.enabled {
            return Bar(None);
        }
        let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let template = if timed {
            "{prefix:<22} [{bar:30}] {msg}, {elapsed}/{duration}"
        } else {
            "{prefix:<22} [{bar:30}] {pos}/{len} ops, eta {eta}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_prefix(title.to_string());
        pb.enable_steady_tick(Duration::from_millis(200));
        Bar(Some(pb))
    }
}

/// One phase's bar (a no-op when progress is hidden).
pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn set(&self, pos: u64) {
        if let Some(pb) = &self.0 {
            pb.set_position(pos);
        }
    }

    pub fn message(&self, msg: String) {
        if let Some(pb) = &self.0 {
            pb.set_message(msg);
        }
    }

    pub fn finish(self) {
        if let Some(pb) = self.0 {
            pb.finish_and_clear();
        }
    }
}
