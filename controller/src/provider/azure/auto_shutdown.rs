//! A VM's auto-shutdown in Azure (`Microsoft.DevTestLab/schedules/
//! shutdown-computevm-{vm}`): Azure itself stops the VM every day at a
//! time in a Windows time zone, so a schedule's stop happens while this
//! machine is off. Daily only: a schedule on some days of the week, or in
//! a zone without a Windows name, has none (the daemon runs it alone).

use anyhow::{Context, Result};
use serde_json::json;

use super::{AzureProvider, data_of};
use crate::{azure::api, azure::context::AzureContext, cost::schedule::Clock, state::VmRow};

impl AzureProvider {
    pub(super) async fn put_auto_shutdown(
        &self,
        vm: &VmRow,
        clock: Clock,
        windows_zone: &str,
        azure: &AzureContext,
    ) -> Result<String> {
        let data = data_of(vm)?;
        let arm = self.client(&azure.access).await?;
        let vm_id = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/{}",
            data.subscription, data.resource_group, data.vm
        );
        let path = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.DevTestLab/schedules/shutdown-computevm-{}",
            data.subscription, data.resource_group, data.vm
        );
        let body = json!({
            "location": data.location,
            "properties": {
                "status": "Enabled",
                "taskType": "ComputeVmShutdownTask",
                "dailyRecurrence": { "time": format!("{:02}{:02}", clock.hour, clock.minute) },
                "timeZoneId": windows_zone,
                "targetResourceId": vm_id,
                "notificationSettings": { "status": "Disabled" }
            }
        });
        let _: serde_json::Value = arm
            .put(&path, api::DEVTESTLAB, &body)
            .await
            .with_context(|| format!("cannot write {}'s auto-shutdown to Azure", data.vm))?;
        Ok(path)
    }

    pub(super) async fn delete_auto_shutdown(&self, id: &str, azure: &AzureContext) -> Result<()> {
        let arm = self.client(&azure.access).await?;
        arm.delete(id, api::DEVTESTLAB)
            .await
            .with_context(|| format!("cannot remove the auto-shutdown {id}"))
    }
}
