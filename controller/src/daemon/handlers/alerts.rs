//! `azlin alerts`: the rules in force, active alerts and recent events.
//! (`--follow` is streamed by [`super::socket`].)

use anyhow::Result;

use super::{Ctx, Handle};
use crate::ipc::alerts::{Alerts, AlertsView};

impl Handle for Alerts {
    async fn handle(self, cx: &Ctx) -> Result<AlertsView> {
        crate::daemon::jobs::alerts::view(&cx.d, self.history)
    }
}
