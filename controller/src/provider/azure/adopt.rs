//! Bringing an Azure VM azlin did not make into the fleet without SSH:
//! [`AzureProvider::adoption`] checks it can be done (a running Linux VM)
//! and says what would change; [`AzureProvider::adopt`] does it: the
//! agent's UDP port admitted from `allowed_cidr` only, on every NSG that
//! governs the VM (its NIC's and its subnet's; listen mode), then ARM's
//! Run Command (`RunShellScript`) installs the agent from the
//! subscription's store, checks its sha256, writes its config, CA and
//! one-time token and starts its unit (`azlin_cloud_init::adopt_script`).
//!
//! Not here: the fleet's side (the row, the token, waiting for the agent
//! to enroll: the daemon's `adopt` handler).

use anyhow::{Context, Result, bail};
use azlin_cloud_init::{ADOPTED, UserData, adopt_script};
use azlin_protocol::DEFAULT_AGENT_PORT;

use super::{
    AzureData, AzureProvider, data_of,
    inventory::{name_of, snapshot},
};
use crate::{
    azure::{
        api,
        client::ArmClient,
        context::AzureContext,
        models::{
            compute::{RunCommandInput, RunCommandResult, VirtualMachine},
            network::{NetworkSecurityGroup, SecurityRule, SecurityRuleProperties, Subnet},
        },
    },
    provider::{Adoption, AgentConnect, Provisioned, VmSpec},
};

/// The rule azlin adds for the agent.
const RULE: &str = "azlin-agent";

/// How much of a failed Run Command's output an error shows.
const SHOWN: usize = 600;

impl AzureProvider {
    /// Whether `name` (in the request's resource group, not azlin's) can be
    /// adopted, and what adopting it changes.
    pub(super) async fn adoption(&self, name: &str, azure: &AzureContext) -> Result<Adoption> {
        let super::inventory::GroupRead {
            arm,
            subscription,
            group,
            snapshot: snap,
        } = self.read_group(azure).await?;
        let Some(vm) = snap.vm(&group, name) else {
            bail!(
                "no VM named {name:?} in resource group {group}; `azlin list` shows the VMs there"
            );
        };
        let os = vm
            .properties
            .storage_profile
            .as_ref()
            .and_then(|s| s.os_disk.as_ref())
            .and_then(|d| d.os_type.clone());
        if os
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case("Windows"))
        {
            bail!("{name} runs Windows; azlin's agent runs on Linux only, nothing done");
        }
        let view = snap.view(vm);
        if view.power != "running" {
            bail!(
                "{name} is {}: Run Command needs it running; `azlin start {name}` first (nothing done)",
                view.power
            );
        }
        let data = snap.owned(vm, &subscription);
        let mut changes = Vec::new();
        if view.public_ip.is_some() {
            for nsg in self.governing_nsgs(&arm, vm, &snap).await? {
                changes.push(format!(
                    "admit UDP {DEFAULT_AGENT_PORT} from the allowed address in NSG {}",
                    name_of(&nsg)
                ));
            }
        }
        changes.push(format!(
            "Run Command on {name}: install azlin-agent (sha256 checked) from the subscription's \
             agent store, write /etc/azlin/agent.toml, ca.crt and a one-time join token, enable \
             azlin-agent.service"
        ));
        Ok(Adoption {
            row: super::inventory::unmanaged_row(&data, &view.power),
            public_address: view.public_ip.clone(),
            user: vm
                .properties
                .os_profile
                .as_ref()
                .and_then(|o| o.admin_username.clone()),
            changes,
        })
    }

    /// The NSGs that govern the VM's primary NIC: the NIC's own and its
    /// subnet's, as ARM ids.
    async fn governing_nsgs(
        &self,
        arm: &ArmClient,
        vm: &VirtualMachine,
        snap: &super::inventory::Snapshot,
    ) -> Result<Vec<String>> {
        let Some(nic) = snap.primary_nic(vm) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        if let Some(nsg) = &nic.properties.network_security_group {
            out.push(nsg.id.clone());
        }
        let subnet_id = nic
            .properties
            .ip_configurations
            .iter()
            .find_map(|c| c.properties.subnet.as_ref())
            .map(|s| s.id.clone());
        if let Some(subnet_id) = subnet_id
            && let Some(subnet) = arm.get_opt::<Subnet>(&subnet_id, api::NETWORK).await?
            && let Some(nsg) = subnet.properties.network_security_group
            && !out.iter().any(|o| o.eq_ignore_ascii_case(&nsg.id))
        {
            out.push(nsg.id);
        }
        Ok(out)
    }

    /// Adopt the VM `adoption` describes: NSG rules (listen mode), then the
    /// agent through Run Command. The VM's agent enrolls with `spec.token`.
    pub(super) async fn adopt(
        &self,
        adoption: &Adoption,
        spec: &VmSpec,
        azure: &AzureContext,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Provisioned> {
        let data = data_of(&adoption.row)?;
        let arm = self.client(&azure.access).await?;
        if matches!(spec.connect, AgentConnect::Listen) {
            let allowed = self.allowed_cidr(stage).await?;
            let snap = snapshot(&arm, &data.subscription).await?;
            let vm = snap.vm(&data.resource_group, &data.vm).with_context(|| {
                format!(
                    "{} is gone from resource group {}",
                    data.vm, data.resource_group
                )
            })?;
            for nsg in self.governing_nsgs(&arm, vm, &snap).await? {
                self.admit_agent(&arm, &nsg, &allowed).await?;
                stage(format!(
                    "NSG {} admits UDP {DEFAULT_AGENT_PORT} from {allowed}",
                    name_of(&nsg)
                ));
            }
        }
        let delivery = self.deliver_agent(&arm, &data, stage).await?;
        let ssh_public_key = crate::ssh_key::ensure(&self.home)?;
        let user = adoption.user.clone().unwrap_or_else(|| self.admin_user());
        let script = adopt_script(&UserData {
            name: data.vm.clone(),
            user,
            ssh_public_key,
            agent_url: delivery.url,
            agent_sha256: delivery.sha256,
            ca_pem: spec.ca_pem.clone(),
            join_token: spec.token.clone(),
            connect: match &spec.connect {
                AgentConnect::Listen => azlin_cloud_init::AgentConnect::Listen {
                    port: DEFAULT_AGENT_PORT,
                },
                AgentConnect::Dial { controller } => azlin_cloud_init::AgentConnect::Dial {
                    controller: controller.clone(),
                },
            },
            dev_tools: false,
            shared_home: None,
            extra: None,
        })
        .context("cannot write the VM's install script")?;
        stage("installing the agent through Run Command".into());
        run_install(&arm, &data, script).await?;
        let data = AzureData {
            public_address: adoption.public_address.clone(),
            ..data
        };
        Ok(Provisioned {
            address: match spec.connect {
                AgentConnect::Listen => adoption
                    .public_address
                    .as_ref()
                    .map(|ip| format!("{ip}:{DEFAULT_AGENT_PORT}")),
                AgentConnect::Dial { .. } => None,
            },
            provider_data: serde_json::to_string(&data)?,
        })
    }

    /// Allow the agent's UDP port from `allowed` in the NSG `nsg` (an ARM
    /// id), unless a rule of azlin's already does; never from everywhere.
    async fn admit_agent(&self, arm: &ArmClient, nsg: &str, allowed: &str) -> Result<()> {
        let current: NetworkSecurityGroup = arm
            .get(nsg, api::NETWORK)
            .await
            .with_context(|| format!("cannot read NSG {}", name_of(nsg)))?;
        let rules = &current.properties.security_rules;
        if rules.iter().any(|r| {
            r.name.as_deref() == Some(RULE)
                && r.properties.source_address_prefix.as_deref() == Some(allowed)
        }) {
            return Ok(());
        }
        let used: Vec<u32> = rules
            .iter()
            .filter(|r| r.properties.direction.eq_ignore_ascii_case("Inbound"))
            .filter_map(|r| r.properties.priority)
            .collect();
        let Some(priority) = (1000..=4096).find(|p| !used.contains(p)) else {
            bail!(
                "NSG {} has no free inbound priority for azlin's rule",
                name_of(nsg)
            );
        };
        let rule = SecurityRule {
            properties: SecurityRuleProperties {
                protocol: "Udp".into(),
                source_address_prefix: Some(allowed.to_string()),
                source_port_range: Some("*".into()),
                destination_address_prefix: Some("*".into()),
                destination_port_range: Some(DEFAULT_AGENT_PORT.to_string()),
                access: "Allow".into(),
                priority: Some(priority),
                direction: "Inbound".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        arm.put::<_, SecurityRule>(&format!("{nsg}/securityRules/{RULE}"), api::NETWORK, &rule)
            .await
            .with_context(|| format!("cannot add azlin's rule to NSG {}", name_of(nsg)))?;
        Ok(())
    }
}

/// Run `script` (an install script of `azlin_cloud_init`, ending with
/// [`ADOPTED`]) on the VM through Run Command; an error with the VM's own
/// words (its end only, control characters shown as `?`) unless the
/// agent was installed and started.
pub(super) async fn run_install(
    arm: &ArmClient,
    data: &AzureData,
    script: Vec<String>,
) -> Result<()> {
    let result: RunCommandResult = arm
        .post(
            &format!("{}/runCommand", data.vm_path()),
            api::COMPUTE,
            Some(&RunCommandInput {
                command_id: "RunShellScript".into(),
                script,
            }),
        )
        .await
        .with_context(|| format!("Run Command on {} failed", data.vm))?;
    let (out, err) = result.output();
    if out.lines().any(|l| l.trim() == ADOPTED) {
        return Ok(());
    }
    let text = format!("{out}\n{err}");
    let text = text.trim();
    let skip = text.chars().count().saturating_sub(SHOWN);
    let shown: String = text
        .chars()
        .skip(skip)
        .map(|c| if c.is_control() && c != '\n' { '?' } else { c })
        .collect();
    let hint = if err.contains("cannot download") {
        " (no outbound access to Azure Storage from the VM?)"
    } else {
        ""
    };
    bail!("the agent did not install on {}{hint}: {shown}", data.vm);
}
