use super::*;

fn data() -> AzureData {
    AzureData {
        subscription: "sub".into(),
        resource_group: "rg".into(),
        location: "westus2".into(),
        vm_size: "Standard_D2s_v5".into(),
        vm: "dev".into(),
        nic: "dev-nic".into(),
        public_ip: "dev-ip".into(),
        nsg: "dev-nsg".into(),
        os_disk: "dev-osdisk".into(),
        ..Default::default()
    }
}

fn template(tags: &Tags) -> Value {
    let data = data();
    let image = ImageUrn::parse("Canonical:ubuntu-24_04-lts:server:latest").unwrap();
    let t = VmTemplate {
        data: &data,
        tags,
        subnet_id: "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
        allowed: "203.0.113.7/32",
        boot: VmBoot::Image {
            image: &image,
            admin: "azureuser",
            disk_gb: None,
            ssh_public_key: "ssh-ed25519 AAAA azlin",
            custom_data: "I2Nsb3VkLWNvbmZpZw==",
        },
    };
    serde_json::to_value(t.deployment()).unwrap()["properties"]["template"].clone()
}

#[test]
fn one_template_makes_the_vm_after_what_it_needs() {
    let t = template(&Tags::new());
    let resources = t["resources"].as_array().unwrap();
    let kinds: Vec<_> = resources
        .iter()
        .map(|r| (r["type"].as_str().unwrap(), r["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Microsoft.Network/networkSecurityGroups", "dev-nsg"),
            ("Microsoft.Network/publicIPAddresses", "dev-ip"),
            ("Microsoft.Network/networkInterfaces", "dev-nic"),
            ("Microsoft.Compute/virtualMachines", "dev"),
        ]
    );
    let group = "/subscriptions/sub/resourceGroups/rg/providers";
    assert_eq!(
        resources[2]["dependsOn"],
        json!([
            format!("{group}/Microsoft.Network/networkSecurityGroups/dev-nsg"),
            format!("{group}/Microsoft.Network/publicIPAddresses/dev-ip"),
        ])
    );
    assert_eq!(
        resources[3]["dependsOn"],
        json!([format!(
            "{group}/Microsoft.Network/networkInterfaces/dev-nic"
        )])
    );
    for r in resources {
        assert!(r.get("id").is_none(), "ids are ARM's to give: {r}");
        assert!(r["apiVersion"].is_string());
        assert_eq!(r["location"], "westus2");
    }
    let vm = &resources[3]["properties"];
    assert_eq!(vm["osProfile"]["customData"], "I2Nsb3VkLWNvbmZpZw==");
    assert_eq!(vm["storageProfile"]["osDisk"]["deleteOption"], "Delete");
    assert_eq!(vm["storageProfile"]["osDisk"]["name"], "dev-osdisk");
    assert_eq!(
        t["outputs"][PUBLIC_IP_OUTPUT]["value"],
        format!("[reference('{group}/Microsoft.Network/publicIPAddresses/dev-ip').ipAddress]")
    );
}

#[test]
fn the_nsg_admits_only_the_allowed_source() {
    let t = template(&Tags::new());
    let rules = t["resources"][0]["properties"]["securityRules"]
        .as_array()
        .unwrap();
    let seen: Vec<_> = rules
        .iter()
        .map(|r| {
            let p = &r["properties"];
            (
                p["protocol"].as_str().unwrap(),
                p["destinationPortRange"].as_str().unwrap(),
                p["sourceAddressPrefix"].as_str().unwrap(),
                p["direction"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("Tcp", "22", "203.0.113.7/32", "Inbound"),
            ("Udp", "47800", "203.0.113.7/32", "Inbound"),
        ]
    );
    assert!(!t.to_string().contains("0.0.0.0/0"));
}

#[test]
fn values_are_never_template_expressions() {
    let mut tags = Tags::new();
    tags.insert("azlin-session".into(), "[subscription().id]".into());
    let t = template(&tags);
    for r in t["resources"].as_array().unwrap() {
        assert_eq!(r["tags"]["azlin-session"], "[[subscription().id]", "{r}");
    }
}

#[test]
fn a_clone_attaches_its_disks_and_has_no_os_profile() {
    let data = data();
    let group = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/disks";
    let os = format!("{group}/dev-osdisk");
    let data_disks = vec![(0, format!("{group}/dev-data0"))];
    let t = VmTemplate {
        data: &data,
        tags: &Tags::new(),
        subnet_id: "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
        allowed: "203.0.113.7/32",
        boot: VmBoot::Disks {
            os_disk: &os,
            data_disks: &data_disks,
        },
    };
    let t = serde_json::to_value(t.deployment()).unwrap()["properties"]["template"].clone();
    let vm = &t["resources"][3]["properties"];
    // Azure refuses an OS profile (and so custom data) with an attached
    // OS disk, and an image reference with it.
    assert!(vm.get("osProfile").is_none(), "{vm}");
    let storage = &vm["storageProfile"];
    assert!(storage.get("imageReference").is_none(), "{storage}");
    assert_eq!(
        storage["osDisk"],
        json!({"osType": "Linux", "createOption": "Attach", "deleteOption": "Delete",
               "managedDisk": {"id": os}})
    );
    assert_eq!(
        storage["dataDisks"],
        json!([{"lun": 0, "createOption": "Attach", "managedDisk": {"id": data_disks[0].1},
                "deleteOption": "Delete"}])
    );
}
