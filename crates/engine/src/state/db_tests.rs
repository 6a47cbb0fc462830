use super::*;

/// A version-1 database (no volumes table) keeps its rows and gains the table.
#[test]
fn migrates_version_1() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("db.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute("INSERT INTO images (id, record) VALUES ('abc', '{}')", [])
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
    }
    let db = Db::open(&path).unwrap();
    let n: i64 = db
        .conn
        .query_row("SELECT count(*) FROM images", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    let v: i64 = db
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    assert!(db.volumes().unwrap().is_empty());
    let vol = crate::volume::Volume {
        name: "v1".into(),
        driver: "local".into(),
        created: Utc::now(),
        labels: Default::default(),
        options: Default::default(),
        uid: None,
        gid: None,
        anonymous: false,
        needs_copy_up: true,
        needs_chown: true,
        state: Default::default(),
    };
    assert!(db.insert_volume(&vol).unwrap());
    assert!(!db.insert_volume(&vol).unwrap());
    assert_eq!(db.volume("v1").unwrap().unwrap().name, "v1");
    db.delete_volume("v1").unwrap();
    assert!(db.volume("v1").unwrap().is_none());
}

/// What a checkpoint leaves: every commit in the database file itself, so the log the
/// next process rebuilds its index from is empty, and nothing is lost on the way.
#[test]
fn a_checkpoint_moves_every_commit_into_the_database_file() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("db.sqlite");
    let db = Db::open(&path).unwrap();
    for i in 0..50 {
        db.conn
            .execute(
                "INSERT INTO images (id, record) VALUES (?1, '{}')",
                [format!("id{i}")],
            )
            .unwrap();
    }
    let frames = |db: &Db| -> (i64, i64) {
        db.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })
            .unwrap()
    };
    db.checkpoint().unwrap();
    // The database file alone (without its log) holds all 50 rows.
    let copy = t.path().join("copy.sqlite");
    std::fs::copy(&path, &copy).unwrap();
    let alone = Connection::open(&copy).unwrap();
    let n: i64 = alone
        .query_row("SELECT count(*) FROM images", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 50);
    // The log's frames are all in the database: a second checkpoint has nothing to add.
    let (log, done) = frames(&db);
    assert!(log > 0);
    assert_eq!(log, done);
    // The next write starts the log over: one commit's frames, not 50 commits' more.
    db.conn
        .execute("INSERT INTO images (id, record) VALUES ('last', '{}')", [])
        .unwrap();
    let (after, _) = frames(&db);
    assert!(
        after < log,
        "{after} frames after the restart, {log} before"
    );
}
