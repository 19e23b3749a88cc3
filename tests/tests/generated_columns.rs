//! Generated columns in row changes. A STORED one is sent with its value. A
//! VIRTUAL one (PostgreSQL 18) is computed for no trigger, so it is sent as
//! null, as PL/pgSQL's `NEW` shows it, and a room template naming one is
//! refused at CREATE TRIGGER: it could never name a room.

use std::time::Duration;

use pg_socketio_kit::{emitter, refused, server_version, unique_prefix, RawListener};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn generated_columns_are_sent_as_triggers_see_them() {
    let prefix = unique_prefix("generated_columns");
    let mut listener = RawListener::new(&[&format!("{prefix}#/")]).await;
    let db = emitter(&prefix).await;
    let version = server_version(&db).await;
    let has_virtual = version >= 180000;
    let virtual_column = if has_virtual {
        ", virtual_total numeric GENERATED ALWAYS AS (price * qty) VIRTUAL"
    } else {
        ""
    };
    db.batch_execute(&format!(
        "CREATE TEMP TABLE priced (id int, price numeric, qty int,
           stored_total numeric GENERATED ALWAYS AS (price * qty) STORED {virtual_column});
         CREATE TEMP TABLE seen (new text);
         CREATE FUNCTION pg_temp.see() RETURNS trigger LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO seen VALUES (row_to_json(NEW)::text); RETURN NULL; END$$;
         CREATE TRIGGER a_see AFTER INSERT ON priced FOR EACH ROW EXECUTE FUNCTION pg_temp.see();
         CREATE TRIGGER b_row AFTER INSERT ON priced
           FOR EACH ROW EXECUTE FUNCTION sio_trigger('r:{{id}}', 'row');
         CREATE TRIGGER c_statement AFTER INSERT ON priced REFERENCING NEW TABLE AS added
           FOR EACH STATEMENT EXECUTE FUNCTION sio_trigger('all', 'rows');
         INSERT INTO priced (id, price, qty) VALUES (1, 2.5, 4);"
    ))
    .await
    .unwrap();

    let expected = if has_virtual {
        r#"{"id":1,"price":2.5,"qty":4,"stored_total":10.0,"virtual_total":null}"#
    } else {
        r#"{"id":1,"price":2.5,"qty":4,"stored_total":10.0}"#
    };
    let seen: String = db
        .query_one("SELECT new FROM seen", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, expected, "what PL/pgSQL's NEW holds");
    let row = listener.next(WAIT).await.expect("the row's event");
    let statement = listener.next(WAIT).await.expect("the statement's event");
    assert!(
        row.payload()
            .contains(r#""data":["row",{"op":"INSERT","schema":"#)
            && row
                .payload()
                .contains(&format!(r#""new":{expected},"old":null}}"#)),
        "{}",
        row.payload()
    );
    assert!(
        statement
            .payload()
            .contains(&format!(r#""rows":[{{"new":{expected},"old":null}}]"#)),
        "{}",
        statement.payload()
    );

    if has_virtual {
        let error = refused(
            &db,
            "CREATE TRIGGER d_virtual AFTER INSERT ON priced
               FOR EACH ROW EXECUTE FUNCTION sio_trigger('total:{virtual_total}')",
        )
        .await;
        assert_eq!(error.code().code(), "22023");
        assert_eq!(
            error.message(),
            "sio_trigger's room template names column \"virtual_total\", a virtual generated \
             column: PostgreSQL does not compute those for triggers, so it would never name a \
             room (make the column STORED, or name another)"
        );
        let triggers: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'priced'::regclass",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(triggers, 3, "the refused trigger was not made");
        // A filter may name it: its value is sent, as null.
        db.batch_execute(
            "CREATE TRIGGER d_virtual AFTER INSERT ON priced
               FOR EACH ROW EXECUTE FUNCTION sio_trigger('v:{id}', 'only', 'columns=id,virtual_total');
             INSERT INTO priced (id, price, qty) VALUES (2, 1, 1);",
        )
        .await
        .unwrap();
        let mut payloads = Vec::new();
        while let Some(n) = listener.next(Duration::from_millis(500)).await {
            payloads.push(n.payload().to_owned());
        }
        assert!(
            payloads
                .iter()
                .any(|p| p.contains(r#""new":{"id":2,"virtual_total":null},"old":null}"#)),
            "{payloads:?}"
        );
    } else {
        eprintln!("PostgreSQL {version} has no virtual generated columns: stored ones only");
    }
}
