//! `azlin clone SRC [--name N] [--num-replicas K] [--json]`: progress as
//! `new` shows it, then the clones as `list` shows them.

use anyhow::Result;

use super::{new_progress::NewProgress, render};
use crate::{home::Home, ipc::client::Client, ipc::clone::CloneVm};

pub fn run(
    home: &Home,
    src: String,
    name: Option<String>,
    replicas: u32,
    json: bool,
) -> Result<()> {
    let mut progress = NewProgress::new();
    let answer = Client::connect_or_start(home)?.call(
        CloneVm {
            src,
            name,
            replicas,
        },
        |vm, message| progress.stage(vm, message),
    );
    progress.end();
    render::vms(&answer?, json)
}
