use super::*;
use chrono::Utc;

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
    let wal = t.path().join("db.sqlite-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    db.checkpoint().unwrap();
    // The database file alone (without its log) holds all 50 rows.
    let copy = t.path().join("copy.sqlite");
    std::fs::copy(&path, &copy).unwrap();
    let alone = Connection::open(&copy).unwrap();
    let n: i64 = alone
        .query_row("SELECT count(*) FROM images", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 50);
    // The log starts over with one frame (its header already synced): the next process to
    // open the store reads back one page, not the 50 commits'.
    let page = db
        .conn
        .pragma_query_value(None, "page_size", |r| r.get::<_, i64>(0))
        .unwrap();
    assert_eq!(
        std::fs::metadata(&wal).unwrap().len(),
        32 + 24 + page as u64
    );
    // And it works on: the next write starts a new log, every row is there.
    db.conn
        .execute("INSERT INTO images (id, record) VALUES ('last', '{}')", [])
        .unwrap();
    let again = Db::open(&path).unwrap();
    let n: i64 = again
        .conn
        .query_row("SELECT count(*) FROM images", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 51);
}
