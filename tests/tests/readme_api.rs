//! The README is the API: the SQL signatures it gives under "SQL
//! reference", read by PostgreSQL, are exactly the extension's functions
//! (names, parameter names and types, defaults, results), and every
//! function of the extension has one.

use pg_socketio_kit::{connect, texts};

const README: &str = include_str!("../../README.md");

/// The lines of the ```sql blocks of "SQL reference" that start with
/// `sio_`, each joined with the lines that follow until its parentheses
/// close, a trailing `-- comment` dropped.
fn signatures() -> Vec<String> {
    let start = README.find("\n## SQL reference").expect("the section");
    let end = start + README[start + 1..].find("\n## ").expect("the next section");
    let mut signatures = Vec::new();
    let (mut in_sql, mut open): (bool, Option<String>) = (false, None);
    for line in README[start..end].lines() {
        if line.starts_with("```") {
            in_sql = line == "```sql";
            continue;
        }
        if !in_sql {
            continue;
        }
        let code = line.split(" -- ").next().unwrap_or(line).trim();
        let joined = match open.take() {
            Some(before) => format!("{before} {code}"),
            None if code.starts_with("sio_") => code.to_owned(),
            None => continue,
        };
        if joined.matches('(').count() > joined.matches(')').count() {
            open = Some(joined);
        } else {
            signatures.push(joined);
        }
    }
    signatures
}

/// Name, arguments and result of each function `of` selects, as
/// PostgreSQL writes them, sorted.
async fn functions(db: &tokio_postgres::Transaction<'_>, of: &str) -> Vec<String> {
    let sql = format!(
        "SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ') RETURNS '
                || pg_get_function_result(p.oid)
           FROM pg_proc p WHERE {of} ORDER BY 1"
    );
    texts(db, &sql).await
}

#[tokio::test]
async fn the_sql_signatures_in_the_readme_are_the_extensions_functions() {
    let signatures = signatures();
    assert!(signatures.len() >= 14, "{signatures:#?}");
    let mut db = connect().await;
    let tx = db.transaction().await.unwrap();
    // The README's signatures as functions of a schema of their own, whose
    // bodies nothing reads; all of it rolled back.
    tx.batch_execute("SET LOCAL check_function_bodies = off; CREATE SCHEMA readme_api")
        .await
        .unwrap();
    for signature in &signatures {
        let returns = if signature.contains(" RETURNS ") {
            ""
        } else {
            " RETURNS void"
        };
        tx.batch_execute(&format!(
            "CREATE FUNCTION readme_api.{signature}{returns} LANGUAGE plpgsql AS 'BEGIN END'"
        ))
        .await
        .unwrap_or_else(|e| panic!("{signature}: {e}"));
    }
    let readme = functions(&tx, "p.pronamespace = 'readme_api'::regnamespace").await;
    let extension = functions(
        &tx,
        "EXISTS (SELECT FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                  WHERE d.objid = p.oid AND d.deptype = 'e' AND e.extname = 'pg_socketio')",
    )
    .await;
    assert_eq!(readme, extension);
    tx.rollback().await.unwrap();
}
