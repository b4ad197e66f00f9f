//! Acting on one VM through its provider (start, stop, restart, resize,
//! delete, the deletion plan) and deleting the whole fleet. Each names its
//! VM by name or session name; the daemon resolves it once.

use serde::{Deserialize, Serialize};

use super::{Call, Done, NamesVm};

macro_rules! vm_request {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Serialize, Deserialize)]
        pub struct $name {
            pub vm: String,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        impl Call for $name {
            type Reply = Done;
        }

        impl NamesVm for $name {
            fn vm(&self) -> &str {
                &self.vm
            }
        }
    };
}

vm_request!(Start {
    /// Wait until the VM's agent has connected again.
    wait: bool
});
vm_request!(
    /// Stop; an Azure VM is deallocated unless `keep_allocated`.
    Stop {
        /// Power off but keep the VM allocated (and billed).
        keep_allocated: bool
    }
);
vm_request!(Restart {});
vm_request!(Resize { size: String });
vm_request!(
    /// Delete the VM and everything azlin made for it.
    Kill {
        /// The user confirmed deleting a VM azlin did not make (with what
        /// it owns); without it such a VM is refused, untouched.
        unmanaged_ok: bool
    }
);
vm_request!(
    /// What deleting the VM would remove (`destroy --dry-run`).
    DestroyPlan {}
);

/// Delete every VM (in the request's Azure target, if it names one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KillAll;

impl Call for KillAll {
    type Reply = Done;
}
