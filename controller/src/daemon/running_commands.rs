//! How many commands from azlin (`exec`, `azlin -- CMD`) each VM is
//! running now: evidence that it is in use, for idle autostop. A guard
//! counts one command for as long as it lives.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

#[derive(Default, Clone)]
pub struct RunningCommands(Arc<Mutex<BTreeMap<String, usize>>>);

/// One command, counted until dropped.
pub struct Counted {
    vm: String,
    of: RunningCommands,
}

impl RunningCommands {
    pub fn enter(&self, vm: &str) -> Counted {
        *self
            .0
            .lock()
            .expect("running commands lock")
            .entry(vm.to_string())
            .or_default() += 1;
        Counted {
            vm: vm.to_string(),
            of: self.clone(),
        }
    }

    pub fn on(&self, vm: &str) -> usize {
        self.0
            .lock()
            .expect("running commands lock")
            .get(vm)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut map = self.of.0.lock().expect("running commands lock");
        if let Some(n) = map.get_mut(&self.vm) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.vm);
            }
        }
    }
}
