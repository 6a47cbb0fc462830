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
