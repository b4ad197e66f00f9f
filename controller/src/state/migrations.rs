//! The schema of `state.db`, as an ordered list of forward migrations.
//!
//! `PRAGMA user_version` holds the schema version of a file: the number of
//! entries of [`MIGRATIONS`] applied to it. [`super::Db::open`] applies the
//! missing ones in order, each in one transaction together with the bump of
//! `user_version`, so a migration that fails (or a crash in the middle)
//! leaves the file at the version before it, whole.
//!
//! **Adding a migration**: write its SQL as a new `const` below and append
//! one line to [`MIGRATIONS`]. Never edit or reorder an entry that has been
//! released: databases out there are at that version already and will not
//! run it again. A migration's SQL runs inside a transaction, so it must not
//! contain `BEGIN`, `COMMIT`, `VACUUM` or pragmas that only work outside one
//! (`foreign_keys`, `journal_mode`); a table whose columns change is rebuilt
//! the SQLite way (create the new table, copy, drop, rename).
//!
//! What this module is not for: connection settings (WAL, `synchronous`,
//! busy timeout; those are [`super::Db::open`]'s), and no downgrades. A file
//! whose version is newer than this build knows was written by a newer
//! azlin; it is refused, and [`refuse_newer`] looks at it before anything
//! writes, so nothing about it changes (not even the WAL flag in its header).
//!
//! Migration 1 is the schema as it stood before versions existed, word for
//! word (its `CREATE … IF NOT EXISTS` included). Those builds left
//! `user_version` at 0: a version-0 file with the tables is such a database,
//! and migration 1 on it creates nothing that is there and changes no row,
//! so it is just stamped 1. A new, empty file gets version 0 too, and
//! migration 1 creates everything.

use std::path::Path;

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

/// One step of the schema.
pub(super) struct Migration {
    /// What it does, for messages and logs.
    pub what: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first: entry `i` takes a file from version `i`
/// to `i + 1`.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        what: "VMs, tokens, certificates, metrics, tags, alerts (the schema before versions)",
        sql: V1,
    },
    Migration {
        what: "retail prices of VM sizes, kept a day",
        sql: V2,
    },
    Migration {
        what: "daily cost as Azure reported it, kept 400 days",
        sql: V3,
    },
    Migration {
        what: "monthly cost budgets and their thresholds",
        sql: V4,
    },
    Migration {
        what: "VM power schedules",
        sql: V5,
    },
    Migration {
        what: "idle autostop",
        sql: V6,
    },
    Migration {
        what: "schedule start days",
        sql: V7,
    },
    Migration {
        what: "budget stop notice",
        sql: V8,
    },
    Migration {
        what: "retail prices by meter",
        sql: V9,
    },
    Migration {
        what: "VM snapshots and their schedules",
        sql: V10,
    },
];

/// The schema version this build writes.
pub const LATEST: u32 = MIGRATIONS.len() as u32;

const V10: &str = "
CREATE TABLE snapshots (
    name TEXT PRIMARY KEY,
    vm TEXT NOT NULL,
    provider TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    origin TEXT NOT NULL,
    provider_data TEXT NOT NULL,
    held TEXT
);
CREATE INDEX snapshots_by_vm ON snapshots (vm, created_at);
CREATE TABLE snapshot_schedules (
    vm TEXT PRIMARY KEY,
    every_secs INTEGER NOT NULL,
    keep INTEGER NOT NULL,
    last_run INTEGER NOT NULL DEFAULT 0
);
";

const V9: &str = "
ALTER TABLE retail_prices RENAME COLUMN size TO meter;
ALTER TABLE retail_prices RENAME COLUMN per_hour TO price;
";

const V8: &str = "
ALTER TABLE budgets ADD COLUMN stop_grace INTEGER NOT NULL DEFAULT 600;
ALTER TABLE budgets ADD COLUMN stop_noticed INTEGER;
";

const V7: &str = "
ALTER TABLE schedules ADD COLUMN start_days INTEGER;
";

const V6: &str = "
CREATE TABLE autostop (
    vm TEXT PRIMARY KEY,
    idle_secs INTEGER NOT NULL,
    cpu_below REAL NOT NULL,
    keepalive_until INTEGER NOT NULL,
    last_busy INTEGER NOT NULL,
    warned INTEGER NOT NULL
);
";

const V5: &str = "
CREATE TABLE schedules (
    vm TEXT PRIMARY KEY,
    stop TEXT NOT NULL,
    start TEXT,
    days INTEGER NOT NULL,
    tz TEXT NOT NULL,
    done_stop INTEGER NOT NULL,
    done_start INTEGER NOT NULL,
    auto_shutdown TEXT
);
";

const V4: &str = "
CREATE TABLE budgets (
    scope TEXT PRIMARY KEY,
    words TEXT NOT NULL,
    subscription TEXT NOT NULL,
    resource_group TEXT,
    amount REAL NOT NULL,
    thresholds TEXT NOT NULL,
    azure_budget TEXT,
    created_at INTEGER NOT NULL
);
";

const V3: &str = "
CREATE TABLE cost_days (
    scope TEXT NOT NULL,
    day TEXT NOT NULL,
    cost REAL NOT NULL,
    currency TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (scope, day)
);
";

const V2: &str = "
CREATE TABLE retail_prices (
    region TEXT NOT NULL,
    size TEXT NOT NULL,
    currency TEXT NOT NULL,
    per_hour REAL,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (region, size, currency)
);
";

const V1: &str = "
CREATE TABLE IF NOT EXISTS vms (
    name TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    state TEXT NOT NULL,
    connect_mode TEXT NOT NULL,
    address TEXT,
    created_at INTEGER NOT NULL,
    cert_serial TEXT,
    provider_data TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    vm TEXT NOT NULL,
    verifier BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE TABLE IF NOT EXISTS certs (
    serial TEXT PRIMARY KEY,
    vm TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    revoked_at INTEGER,
    pem TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS certs_by_vm ON certs(vm);

CREATE TABLE IF NOT EXISTS metrics (
    vm TEXT NOT NULL,
    step INTEGER NOT NULL,
    t INTEGER NOT NULL,
    cpu REAL NOT NULL,
    load1 REAL NOT NULL,
    memory_used INTEGER NOT NULL,
    memory_total INTEGER NOT NULL,
    disk_used INTEGER NOT NULL,
    disk_total INTEGER NOT NULL,
    rx INTEGER NOT NULL,
    tx INTEGER NOT NULL,
    tmux_sessions INTEGER NOT NULL,
    PRIMARY KEY (vm, step, t)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS vm_tags (
    vm TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (vm, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS alert_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    vm TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    seq INTEGER,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    transition TEXT NOT NULL,
    severity TEXT NOT NULL,
    value REAL NOT NULL,
    threshold REAL NOT NULL,
    message TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    UNIQUE (vm, epoch, seq)
);
CREATE TABLE IF NOT EXISTS alerts_active (
    vm TEXT NOT NULL,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    PRIMARY KEY (vm, rule, subject)
) WITHOUT ROWID;
";

fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

fn too_new(name: &str, version: u32, known: u32) -> anyhow::Error {
    anyhow::anyhow!(
        "{name} has schema version {version}, but this azlin ({}) knows versions up to {known}: \
         the file was written by a newer azlin. Use that newer azlin (or a later one) with it; \
         this one has left the file untouched",
        env!("CARGO_PKG_VERSION")
    )
}

/// Refuse a file written by a newer azlin without writing anything, not
/// even beside it. A file that does not exist yet passes.
pub(super) fn refuse_newer(path: &Path) -> Result<()> {
    let version = stored_version(path)
        .with_context(|| format!("cannot read the schema version of {}", path.display()))?;
    match version {
        Some(v) if v > LATEST => Err(too_new(&path.display().to_string(), v, LATEST)),
        _ => Ok(()),
    }
}

/// The file's `user_version`, `None` if there is no file. With no
/// write-ahead log to replay the main file is current, and the header says
/// it (4 bytes big-endian at offset 60); reading that touches nothing, where
/// even a read-only SQLite connection would leave `-wal` and `-shm` files
/// behind. When a log is there (a writer crashed, or is running), a
/// read-only connection reads through it; it never checkpoints, so the
/// main file stays as it is.
fn stored_version(path: &Path) -> Result<Option<u32>> {
    let mut header = Vec::with_capacity(100);
    match std::fs::File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
        Ok(file) => {
            use std::io::Read;
            file.take(100).read_to_end(&mut header)?;
        }
    }
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let logged = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
    if !logged {
        if header.is_empty() {
            // A new file: SQLite treats it as an empty database.
            return Ok(Some(0));
        }
        if header.len() < 100 || !header.starts_with(b"SQLite format 3\0") {
            bail!("it is not an SQLite database");
        }
        let field: [u8; 4] = header[60..64].try_into().expect("4 bytes");
        return Ok(Some(u32::from_be_bytes(field)));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    Ok(Some(user_version(&conn)?))
}

/// Bring the database on `conn` (called `name` in messages) up to the end
/// of `migrations`, one transaction per migration.
pub(super) fn migrate(conn: &mut Connection, name: &str, migrations: &[Migration]) -> Result<()> {
    let latest = migrations.len() as u32;
    loop {
        // IMMEDIATE: the version read and the migration are one writer's
        // view, whoever else has the file open.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .with_context(|| format!("cannot start migrating {name}"))?;
        let version = user_version(&tx)?;
        if version > latest {
            return Err(too_new(name, version, latest));
        }
        let Some(m) = migrations.get(version as usize) else {
            return Ok(());
        };
        let next = version + 1;
        tx.execute_batch(m.sql)
            .and_then(|()| tx.pragma_update(None, "user_version", next))
            .and_then(|()| tx.commit())
            .with_context(|| {
                format!(
                    "cannot migrate {name} from schema version {version} to {next} ({}); \
                     it stays at version {version}",
                    m.what
                )
            })?;
        if version > 0 {
            tracing::info!("{name}: schema version {version} -> {next} ({})", m.what);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use azlin_protocol::alert::{Severity, Transition};

    use super::*;
    use crate::{
        alerts::record::AlertRecord,
        state::{ConnectMode, Db, TokenCheck, VmRow, VmState},
    };

    /// `state.db` as the code before schema versions wrote it (user_version
    /// 0, checkpointed into one file): made once with that code's `Db` API,
    /// from VMs, tokens, enrollments, a removed VM, metrics downsampled at
    /// t = 1_790_000_100, tags and alerts.
    const STATE_V0: &[u8] = include_bytes!("fixtures/state-v0.db");

    /// Every table's rows (and the schema itself), as text, to compare.
    fn dump(conn: &Connection) -> Vec<String> {
        let mut out = Vec::new();
        let tables: Vec<(String, String)> = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for (table, sql) in tables {
            out.push(sql);
            let stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
            let n = stmt.column_count();
            let order: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT * FROM \"{table}\" ORDER BY {}",
                    order.join(", ")
                ))
                .unwrap();
            let rows = stmt
                .query_map([], |r| {
                    let cells: Vec<String> = (0..n)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect();
                    Ok(format!("{table}: {}", cells.join(" | ")))
                })
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap();
            out.extend(rows);
        }
        out
    }

    fn version_of(path: &Path) -> u32 {
        user_version(&Connection::open(path).unwrap()).unwrap()
    }

    #[test]
    fn a_database_from_before_versions_is_stamped_and_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        std::fs::write(&path, STATE_V0).unwrap();
        let before = {
            let ro = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
            assert_eq!(user_version(&ro).unwrap(), 0);
            dump(&ro)
        };
        assert!(before.len() > 20, "{before:#?}");

        let mut db = Db::open(&path).unwrap();
        assert_eq!(user_version(&db.conn).unwrap(), LATEST);
        if LATEST == 1 {
            assert_eq!(dump(&db.conn), before, "stamping changed the data");
        }

        let vm = |name: &str,
                  provider: &str,
                  state,
                  mode,
                  address: Option<&str>,
                  serial: Option<&str>,
                  data: &str| VmRow {
            name: name.into(),
            provider: provider.into(),
            state,
            connect_mode: mode,
            address: address.map(Into::into),
            created_at: 1_789_990_000,
            cert_serial: serial.map(Into::into),
            provider_data: data.into(),
        };
        assert_eq!(
            db.vms().unwrap(),
            vec![
                vm(
                    "az-1",
                    "azure",
                    VmState::Provisioning,
                    ConnectMode::Dial,
                    None,
                    None,
                    r#"{"subscription":"00000000-1111-2222-3333-444444444444","resource_group":"rg-dev","location":"westeurope","vm_size":"Standard_D2s_v5","vm":"az-1","nic":"az-1-nic","public_ip":"az-1-ip","nsg":"az-1-nsg"}"#
                ),
                vm(
                    "box-1",
                    "docker",
                    VmState::Stopped,
                    ConnectMode::Listen,
                    Some("172.17.0.5:47800"),
                    Some("02cd"),
                    r#"{"container":"azlin-box-1","image":"azlin-vm:bookworm","ip":"172.17.0.5"}"#
                ),
                vm(
                    "dev-1",
                    "local",
                    VmState::Running,
                    ConnectMode::Listen,
                    Some("127.0.0.1:47811"),
                    Some("01ab"),
                    r#"{"pid":4242}"#
                ),
                vm(
                    "ext-1",
                    "external",
                    VmState::Failed,
                    ConnectMode::Dial,
                    None,
                    None,
                    "{}"
                ),
            ]
        );

        // Tokens: burned by enrollment, still usable, expired, gone with
        // their removed VM.
        for (id, vm, byte, check) in [
            ("tok-dev-1", "dev-1", 1, TokenCheck::Used),
            ("tok-box-1", "box-1", 2, TokenCheck::Used),
            ("tok-az-1", "az-1", 3, TokenCheck::Usable),
        ] {
            let (c, row) = db.check_token(id).unwrap();
            assert_eq!(c, check, "{id}");
            let row = row.unwrap();
            assert_eq!(
                (row.vm.as_str(), row.verifier),
                (vm, vec![byte; 32]),
                "{id}"
            );
        }
        let (c, row) = db.check_token("tok-ext-1").unwrap();
        assert!(matches!(c, TokenCheck::Expired { .. }), "{c:?}");
        assert_eq!(row.unwrap().verifier, vec![4; 32]);
        assert_eq!(db.check_token("tok-gone").unwrap().0, TokenCheck::Unknown);

        // Certificates: two live, the removed VM's revoked.
        assert_eq!(db.cert_count().unwrap(), 3);
        for (serial, vm, not_after, revoked) in [
            ("01ab", "dev-1", 1_821_536_000, false),
            ("02cd", "box-1", 1_821_536_001, false),
            ("03ef", "gone", 1_821_536_002, true),
        ] {
            let c = db.cert(serial).unwrap().unwrap();
            assert_eq!(
                (c.vm.as_str(), c.not_after, c.revoked_at.is_some()),
                (vm, not_after, revoked),
                "{serial}"
            );
        }
        let pem: String = db
            .conn
            .query_row("SELECT pem FROM certs WHERE serial = '01ab'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            pem,
            "-----BEGIN CERTIFICATE-----\ndev-1\n-----END CERTIFICATE-----\n"
        );

        // Metrics: a 5-minute average of old raw points, and raw points.
        assert_eq!(db.metrics_rows().unwrap(), 5);
        assert_eq!(
            db.history("dev-1", 0).unwrap(),
            vec![
                (1_789_977_900, 300, 20.0, 200),
                (1_790_000_040, 10, 70.0, 700),
                (1_790_000_050, 10, 75.0, 750),
            ]
        );
        assert_eq!(
            db.history("box-1", 0).unwrap(),
            vec![
                (1_789_977_900, 300, 50.0, 500),
                (1_790_000_050, 10, 5.0, 50)
            ]
        );

        // Tags (a removed one and the removed VM's are gone).
        let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let all = db.all_tags().unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all["dev-1"], tags(&[("gpu", "no"), ("team", "web")]));
        assert_eq!(all["box-1"], tags(&[("team", "infra")]));
        assert_eq!(all["az-1"], tags(&[("owner", "ana")]));

        // Alerts: the whole history, and the two still firing.
        let alert = |id,
                     vm: &str,
                     rule: &str,
                     subject: &str,
                     transition,
                     severity,
                     value,
                     threshold,
                     message: &str,
                     at_ms: u64| AlertRecord {
            id,
            vm: vm.into(),
            rule: rule.into(),
            subject: subject.into(),
            transition,
            severity,
            value,
            threshold,
            message: message.into(),
            at_ms,
            received_ms: at_ms + 20,
        };
        let history = vec![
            alert(
                1,
                "dev-1",
                "cpu-high",
                "",
                Transition::Firing,
                Severity::Warning,
                97.5,
                90.0,
                "cpu is 97.5% > 90.0%",
                1_790_000_000_000,
            ),
            alert(
                2,
                "box-1",
                "disk-full",
                "/",
                Transition::Firing,
                Severity::Critical,
                96.0,
                95.0,
                "/ is 96.0% full > 95.0%",
                1_790_000_001_000,
            ),
            alert(
                3,
                "box-1",
                "disk-full",
                "/",
                Transition::Resolved,
                Severity::Critical,
                80.0,
                95.0,
                "/ is 80.0% full",
                1_790_000_002_000,
            ),
            alert(
                4,
                "box-1",
                "tmux-session-ended",
                "work",
                Transition::Notice,
                Severity::Info,
                0.0,
                0.0,
                "tmux session work ended",
                1_790_000_003_000,
            ),
            alert(
                5,
                "az-1",
                "agent-lost",
                "",
                Transition::Firing,
                Severity::Critical,
                0.0,
                0.0,
                "agent lost",
                1_790_000_004_000,
            ),
        ];
        assert_eq!(db.alert_history(100).unwrap(), history);
        assert_eq!(
            db.active_alerts().unwrap(),
            vec![history[4].clone(), history[0].clone()]
        );

        // And it goes on working: ids continue, a reopen changes nothing.
        db.update_tags("ext-1", &[("team".into(), "ops".into())], &[])
            .unwrap();
        drop(db);
        let db = Db::open(&path).unwrap();
        assert_eq!(db.tags("ext-1").unwrap(), tags(&[("team", "ops")]));
        assert_eq!(user_version(&db.conn).unwrap(), LATEST);
    }

    /// The file's and its log's bytes, and the folder's names.
    fn snapshot(path: &Path) -> (Vec<u8>, Option<Vec<u8>>, Vec<String>) {
        let mut names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        (std::fs::read(path).unwrap(), std::fs::read(wal).ok(), names)
    }

    #[test]
    fn a_database_from_a_newer_azlin_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        // Written by this code then bumped (WAL mode, as a newer azlin
        // leaves it); the old fixture bumped (its header as the code before
        // versions left it); bumped by a writer that then died, so the new
        // version is only in the write-ahead log.
        for case in ["closed", "fixture", "crashed"] {
            let path = dir.path().join(format!("{case}/state.db"));
            std::fs::create_dir(path.parent().unwrap()).unwrap();
            match case {
                "fixture" => std::fs::write(&path, STATE_V0).unwrap(),
                _ => drop(Db::open(&path).unwrap()),
            }
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", LATEST + 1)
                .unwrap();
            if case == "crashed" {
                std::mem::forget(conn);
            } else {
                drop(conn);
            }
            let before = snapshot(&path);
            assert_eq!(before.1.is_some(), case == "crashed", "{case}");

            let err = Db::open(&path).err().expect("a newer file must be refused");
            let text = format!("{err:#}");
            for part in [
                path.display().to_string(),
                format!("schema version {}", LATEST + 1),
                format!("knows versions up to {LATEST}"),
                "newer azlin".into(),
            ] {
                assert!(
                    text.contains(&part),
                    "{case}: {part:?} missing from {text:?}"
                );
            }
            let after = snapshot(&path);
            assert_eq!(after.2, before.2, "{case}: files appeared or went");
            assert!(
                after.0 == before.0,
                "{case}: the refused file's bytes changed"
            );
            assert!(after.1 == before.1, "{case}: its log changed");
            assert_eq!(version_of(&path), LATEST + 1);
        }
    }

    #[test]
    fn a_failing_migration_leaves_the_version_it_started_from() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let steps = [
            Migration {
                what: "one",
                sql: MIGRATIONS[0].sql,
            },
            Migration {
                what: "two",
                sql: "CREATE TABLE two (x INTEGER);",
            },
            Migration {
                what: "three",
                sql: "CREATE TABLE three (x); INSERT INTO two VALUES (1); INSERT INTO nowhere VALUES (1);",
            },
            Migration {
                what: "four",
                sql: "CREATE TABLE four (x);",
            },
        ];
        let mut conn = Connection::open(&path).unwrap();
        let err = migrate(&mut conn, "state.db", &steps).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("from schema version 2 to 3 (three)"),
            "{text}"
        );
        assert!(text.contains("no such table: nowhere"), "{text}");
        assert!(text.contains("stays at version 2"), "{text}");
        drop(conn);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 2);
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE name IN ('two', 'three', 'four')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(tables, ["two"]);
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM two", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0, "the failed migration's insert was kept");
        // Fixed, it goes on from there.
        drop(conn);
        let mut conn = Connection::open(&path).unwrap();
        let fixed = [
            Migration {
                what: "one",
                sql: "",
            },
            Migration {
                what: "two",
                sql: "",
            },
            Migration {
                what: "three",
                sql: "CREATE TABLE three (x);",
            },
            Migration {
                what: "four",
                sql: "CREATE TABLE four (x);",
            },
        ];
        migrate(&mut conn, "state.db", &fixed).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 4);
    }

    #[test]
    fn new_and_in_memory_databases_get_every_migration() {
        let db = Db::in_memory();
        assert_eq!(user_version(&db.conn).unwrap(), LATEST);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(Db::open(&path).unwrap());
        assert_eq!(version_of(&path), LATEST);
        // An empty file (made by hand, or by a crash right after creating it)
        // is a new database too.
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        drop(Db::open(&empty).unwrap());
        assert_eq!(version_of(&empty), LATEST);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        std::fs::write(&path, vec![7u8; 4096]).unwrap();
        let before = snapshot(&path);
        let err = Db::open(&path).err().unwrap();
        assert!(
            format!("{err:#}").contains("cannot read the schema version"),
            "{err:#}"
        );
        assert!(snapshot(&path) == before);
    }
}
