//! One Azure test environment, as the Azure end-to-end tests and the
//! Azure benchmark start from it: a CLI home whose `[azure]` names a
//! subscription and resource group (in westus2, agents admitted from
//! 203.0.113.7), the fake ARM emulating (with a strict fake Blob endpoint
//! for the agent store) as `AZLIN_ARM_ENDPOINT` and the Retail Prices
//! API, and VMs "booted" as real agents from their custom data ([`Boot`],
//! stopped first when it goes).

use std::ops::{Deref, DerefMut};

use super::{
    blob::FakeBlob,
    boot::{Boot, Halt},
    emulator::Emulator,
    fake::FakeArm,
};
use crate::Env;

pub struct AzureEnv {
    // Fields drop in this order: the booted agents stop before the home
    // that holds their folders goes.
    _halt: Halt,
    pub boot: Boot,
    pub blob: FakeBlob,
    pub fake: FakeArm,
    pub env: Env,
    pub subscription: String,
    pub group: String,
}

impl AzureEnv {
    /// `extra` lines go in `[azure]` too.
    pub fn new(subscription: &str, group: &str, extra: &str) -> Self {
        let boot = Boot::default();
        let blob = FakeBlob::start();
        let fake = FakeArm::emulating(
            Emulator::new(1, Some(Box::new(boot.clone()))).with_blob(blob.clone()),
        );
        let mut env = Env::new();
        boot.set_root(env.home().join("azure-vms"));
        env.configure(&format!(
            "[azure]\nsubscription = \"{subscription}\"\nresource_group = \"{group}\"\n\
             location = \"westus2\"\nallowed_cidr = \"203.0.113.7/32\"\n{extra}"
        ));
        env.set_var("AZLIN_ARM_ENDPOINT", fake.base());
        env.set_var("AZLIN_ARM_TOKEN", "test-token");
        env.set_var("AZLIN_RETAIL_PRICES_ENDPOINT", fake.base());
        AzureEnv {
            _halt: Halt(boot.clone()),
            boot,
            blob,
            fake,
            env,
            subscription: subscription.to_string(),
            group: group.to_string(),
        }
    }

    /// The resource group's ARM path.
    pub fn rg(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.subscription, self.group
        )
    }
}

impl Deref for AzureEnv {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl DerefMut for AzureEnv {
    fn deref_mut(&mut self) -> &mut Env {
        &mut self.env
    }
}
