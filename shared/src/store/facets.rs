//! The board's filter index (table `task_facets`, docs/board.md "Filters"): one row per label
//! name, assignee login and milestone title a task shows, folded to ASCII lower case. The
//! task list finds a filter's tasks through it with an index probe instead of reading every
//! task's JSON. This module is its only writer; every statement that writes a link's labels,
//! assignees or milestone calls [`replace_in`] in the same transaction.

use std::collections::BTreeSet;

use sqlx::AnyConnection;

use super::StoreError;
use super::rows::{multi_row_insert, placeholders};
use crate::domain::IssueExtras;

/// What a facet row says of its task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Facet {
    Label,
    Assignee,
    Milestone,
}

impl Facet {
    fn as_str(self) -> &'static str {
        match self {
            Facet::Label => "label",
            Facet::Assignee => "assignee",
            Facet::Milestone => "milestone",
        }
    }
}

/// How a facet's value is stored and looked up: ASCII letters folded to lower case, as
/// GitHub compares label names (and the SQL backfill of the migration folds them).
pub fn fold(value: &str) -> String {
    value.to_ascii_lowercase()
}

/// The facet rows of a task showing `extras`, each once.
fn facets_of(extras: &IssueExtras) -> BTreeSet<(Facet, String)> {
    let labels = extras.labels.iter().map(|l| (Facet::Label, fold(&l.name)));
    let assignees = extras.assignees.iter().map(|a| (Facet::Assignee, fold(a)));
    let milestone = extras.milestone.iter().map(|m| (Facet::Milestone, fold(m)));
    labels.chain(assignees).chain(milestone).collect()
}

/// Makes the facets of each `(task id, extras)` of one project what the extras say.
pub(crate) async fn replace_in(
    conn: &mut AnyConnection,
    project_id: &str,
    tasks: &[(&str, &IssueExtras)],
) -> Result<(), StoreError> {
    // Well under both backends' limits on bound values per statement.
    const TASKS_PER_DELETE: usize = 500;
    for chunk in tasks.chunks(TASKS_PER_DELETE) {
        let sql = format!("DELETE FROM task_facets WHERE task_id IN ({})", placeholders(1, chunk.len()));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (task_id, _) in chunk {
            query = query.bind(*task_id);
        }
        query.execute(&mut *conn).await?;
    }
    insert_in(conn, project_id, tasks).await
}

/// Writes the facets of tasks that have none yet (tasks created in this transaction).
pub(crate) async fn insert_in(
    conn: &mut AnyConnection,
    project_id: &str,
    tasks: &[(&str, &IssueExtras)],
) -> Result<(), StoreError> {
    const ROWS_PER_INSERT: usize = 200;
    let rows: Vec<(&str, Facet, String)> = tasks
        .iter()
        .flat_map(|(task_id, extras)| facets_of(extras).into_iter().map(|(f, v)| (*task_id, f, v)))
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = multi_row_insert(
            "INSERT INTO task_facets (task_id, project_id, kind, value) VALUES ",
            chunk.len(),
            4,
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (task_id, facet, value) in chunk {
            query = query.bind(*task_id).bind(project_id).bind(facet.as_str()).bind(value.as_str());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Label;

    #[test]
    fn a_task_s_facets_are_its_labels_assignees_and_milestone_folded_and_each_once() {
        let label = |name: &str| Label { name: name.into(), color: "ededed".into() };
        let cases: [(IssueExtras, &[(Facet, &str)]); 3] = [
            (IssueExtras::default(), &[]),
            (
                IssueExtras {
                    labels: vec![label("Bug"), label("bug"), label("Ärger")],
                    assignees: vec!["Octo-Cat".into()],
                    milestone: Some("V2.0".into()),
                },
                // ASCII only: GitHub's own folding of other letters is not assumed.
                &[
                    (Facet::Label, "bug"),
                    (Facet::Label, "Ärger"),
                    (Facet::Assignee, "octo-cat"),
                    (Facet::Milestone, "v2.0"),
                ],
            ),
            (
                IssueExtras { labels: vec![], assignees: vec!["a".into(), "A".into()], milestone: None },
                &[(Facet::Assignee, "a")],
            ),
        ];
        for (extras, want) in cases {
            let want: BTreeSet<(Facet, String)> = want.iter().map(|(f, v)| (*f, v.to_string())).collect();
            assert_eq!(facets_of(&extras), want, "{extras:?}");
        }
    }
}
