//! `new --template` with a cloud-init extra on docker (the real
//! cloud-init): the user's write_files and runcmd run after azlin's, the
//! VM joins as any other, and a flag given with the template wins.

use std::time::Duration;

use azlin_e2e::docker::{DockerEnv, image};

#[test]
fn a_templates_cloud_config_runs_after_azlins_on_a_docker_vm() {
    let Some(image) = image() else {
        return;
    };
    let env = DockerEnv::new(&image);
    let extra = env.home().join("extra.yaml");
    std::fs::write(
        &extra,
        "#cloud-config\nwrite_files:\n  - path: /etc/azlin-team\n    content: web\n\
         runcmd:\n  - [sh, -c, 'test -x /usr/local/bin/azlin-agent && echo after-azlin > /var/tmp/extra-ran']\n",
    )
    .unwrap();
    env.ok(&[
        "template",
        "create",
        "team",
        "--provider",
        "docker",
        "--tag",
        "team=web",
        "--cloud-init-extra",
        extra.to_str().unwrap(),
    ]);
    env.ok(&[
        "new",
        "--template",
        "team",
        "--name",
        "tv",
        "--tag",
        "team=api",
    ]);
    env.wait("connected", Duration::from_secs(120), || {
        env.connected("tv")
    });
    assert_eq!(env.vm("tv")["tags"]["team"], "api");
    env.wait("the user's runcmd", Duration::from_secs(60), || {
        env.exec("tv", "cat /var/tmp/extra-ran 2>/dev/null; true") == "after-azlin\n"
    });
    assert_eq!(env.exec("tv", "cat /etc/azlin-team"), "web");
}
