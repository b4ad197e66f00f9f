//! `azlin token VM`: a fresh one-time token for an existing VM, for an
//! agent that lost its key. The VM's current certificate stays valid
//! until the new one replaces it at enrollment.

use anyhow::{Result, bail};
use azlin_protocol::enroll::JoinToken;

use super::{Ctx, HandleVm, resolve::Resolved};
use crate::ipc::token::Token;

impl HandleVm for Token {
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<String> {
        let ttl = self.ttl_secs.unwrap_or(cx.d.config().daemon.token_ttl_secs);
        if !(1..=crate::state::tokens::MAX_TOKEN_TTL_SECS as u64).contains(&ttl) {
            bail!(
                "--ttl must be 1 to {} seconds (30 days); nothing issued",
                crate::state::tokens::MAX_TOKEN_TTL_SECS
            );
        }
        let token = JoinToken::generate()?;
        cx.d.db.lock().expect("db lock").insert_token(
            &token.id_hex(),
            vm.name(),
            &token.verifier().to_stored(),
            ttl,
        )?;
        Ok(token.to_string())
    }
}
