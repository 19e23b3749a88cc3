//! A statement's changed rows, as `sio_trigger` gathers them in statement
//! mode before it sends one message per room: every row's JSON in one
//! buffer and its MessagePack in another (a room's message goes inline or
//! to the attachment table, and neither is then made from the other), every
//! row's rooms as numbers in a third, each distinct room's name once. A
//! 100,000-row statement so allocates per room, not per row,
//! and every buffer that grows with the rows grows fallibly (`memory`):
//! running out is an [`Error::OutOfMemory`], not an abort of the backend.
//! The trigger sends what it holds, and [`clears`](StatementRows::clear) it,
//! once it [`holds`](StatementRows::held) its limit.

use std::collections::HashMap;
use std::ops::Range;

use crate::memory::{push, reserve};
use crate::row_change::{statement_change, ChangeJson, StoredRow};
use crate::row_json::Row;
use crate::Error;

const ROWS: &str = "a statement's rows";

/// Which transition table a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    New,
    Old,
}

/// The rows of one statement; see the module's documentation.
#[derive(Debug, Default)]
pub struct StatementRows {
    json: Vec<u8>,
    msgpack: Vec<u8>,
    /// Room numbers, a range of them per row.
    rooms: Vec<usize>,
    new: Vec<Entry>,
    old: Vec<Entry>,
    numbers: HashMap<String, usize>,
    /// The bytes of the rooms' names, kept as they are added: `held` is
    /// asked after every row.
    names_len: usize,
}

/// Where a row's JSON, MessagePack and rooms are.
#[derive(Debug, Clone)]
struct Entry {
    json: Range<usize>,
    msgpack: Range<usize>,
    rooms: Range<usize>,
    /// Its MessagePack kept every number's digits.
    keeps_digits: bool,
}

impl StatementRows {
    /// Adds the next row of `version`'s table; [`add_room`](Self::add_room)
    /// then names its rooms.
    pub fn add_row(&mut self, version: Version, row: &Row) -> Result<(), Error> {
        let (json, msgpack) = (self.json.len(), self.msgpack.len());
        row.append_to(&mut self.json)?;
        let keeps_digits = row.append_msgpack_to(&mut self.msgpack)?;
        let entry = Entry {
            json: json..self.json.len(),
            msgpack: msgpack..self.msgpack.len(),
            rooms: self.rooms.len()..self.rooms.len(),
            keeps_digits,
        };
        push(self.entries(version), entry, ROWS)
    }

    /// Adds `room` to the rooms of the row of `version` added last; a room
    /// the row already has is not added again.
    pub fn add_room(&mut self, version: Version, room: &str) -> Result<(), Error> {
        let number = self.number(room)?;
        let Some(row) = self.entries(version).last().cloned() else {
            return Ok(());
        };
        if self.rooms[row.rooms.clone()].contains(&number) {
            return Ok(());
        }
        push(&mut self.rooms, number, ROWS)?;
        self.entries(version).last_mut().expect("a row").rooms.end += 1;
        Ok(())
    }

    /// About how many bytes the rows take: their JSON and MessagePack,
    /// their room numbers, where each row is, and the rooms' names.
    pub fn held(&self) -> usize {
        self.json.len()
            + self.msgpack.len()
            + self.rooms.len() * std::mem::size_of::<usize>()
            + (self.new.len() + self.old.len()) * std::mem::size_of::<Entry>()
            + self.names_len
    }

    /// Forgets every row and room, keeping the buffers for the next rows.
    pub fn clear(&mut self) {
        self.json.clear();
        self.msgpack.clear();
        self.rooms.clear();
        self.new.clear();
        self.old.clear();
        self.numbers.clear();
        self.names_len = 0;
    }

    fn entries(&mut self, version: Version) -> &mut Vec<Entry> {
        match version {
            Version::New => &mut self.new,
            Version::Old => &mut self.old,
        }
    }

    /// The number of `room`, given when first seen.
    fn number(&mut self, room: &str) -> Result<usize, Error> {
        if let Some(&n) = self.numbers.get(room) {
            return Ok(n);
        }
        let mut name = String::new();
        name.try_reserve_exact(room.len())
            .and_then(|()| self.numbers.try_reserve(1))
            .map_err(|_| Error::OutOfMemory {
                what: ROWS,
                bytes: room.len(),
            })?;
        name.push_str(room);
        self.names_len += room.len();
        let n = self.numbers.len();
        self.numbers.insert(name, n);
        Ok(n)
    }

    /// The rooms in the order the rows first name them (a row's new
    /// version before its old one), each with the rows it gets: indexes
    /// into the pairs of [`change`](Self::change). The i-th rows of the
    /// NEW and OLD tables are one row's two versions (UPDATE's transition
    /// tables hold them in the same order); a row reaches the union of its
    /// versions' rooms, each once.
    pub fn by_room(&self) -> Result<Vec<(&str, Vec<usize>)>, Error> {
        let mut names = Vec::new();
        reserve(&mut names, self.numbers.len(), ROWS)?;
        names.resize(self.numbers.len(), "");
        for (name, &n) in &self.numbers {
            names[n] = name.as_str();
        }
        let mut slot_of: Vec<Option<usize>> = Vec::new();
        reserve(&mut slot_of, names.len(), ROWS)?;
        slot_of.resize(names.len(), None);
        let mut rooms: Vec<(&str, Vec<usize>)> = Vec::new();
        for i in 0..self.new.len().max(self.old.len()) {
            let of = |entries: &[Entry]| {
                entries
                    .get(i)
                    .map_or(&[][..], |e| &self.rooms[e.rooms.clone()])
            };
            for &room in union(of(&self.new), of(&self.old)) {
                match slot_of[room] {
                    Some(slot) => push(&mut rooms[slot].1, i, ROWS)?,
                    None => {
                        slot_of[room] = Some(rooms.len());
                        let mut first = Vec::new();
                        push(&mut first, i, ROWS)?;
                        push(&mut rooms, (names[room], first), ROWS)?;
                    }
                }
            }
        }
        Ok(rooms)
    }

    /// The event's argument for the rows at `indexes` (from
    /// [`by_room`](Self::by_room)): `{"op","schema","table","rows":[{"new","old"}, ...]}`.
    pub fn change(
        &self,
        op: &str,
        schema: &str,
        table: &str,
        indexes: &[usize],
    ) -> Result<ChangeJson<'static>, Error> {
        let row = |entries: &[Entry], i: usize| {
            entries.get(i).map(|e| StoredRow {
                json: &self.json[e.json.clone()],
                msgpack: &self.msgpack[e.msgpack.clone()],
                keeps_digits: e.keeps_digits,
            })
        };
        let pairs = indexes
            .iter()
            .map(|&i| (row(&self.new, i), row(&self.old, i)));
        statement_change(op, schema, table, pairs)
    }
}

/// The rooms of a change's new and old row, each list without repeats:
/// each room once, new ones first (an UPDATE that moves a row between rooms
/// reaches both). Rooms by name in row mode, by number in statement mode.
pub fn union<'r, T: PartialEq>(new: &'r [T], old: &'r [T]) -> impl Iterator<Item = &'r T> {
    new.iter()
        .chain(old.iter().filter(|room| !new.contains(room)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::JsonArg;
    use crate::row_json::{member_key, ColumnValue};
    use crate::transcode::transcoded;

    fn row<'a>(key: &'a str, id: &'a str) -> Row<'a> {
        Row {
            members: vec![(key, ColumnValue::Json(id))],
        }
    }

    #[test]
    fn rows_are_grouped_by_room_and_paired_by_position() {
        let key = member_key("id");
        let mut rows = StatementRows::default();
        // An UPDATE of three rows: the first moves from room a to b, the
        // second stays in a (named twice by two templates), the third has
        // no room (a NULL room column).
        for (version, id, rooms) in [
            (Version::New, "1", &["b"][..]),
            (Version::New, "2", &["a", "a"]),
            (Version::New, "3", &[]),
            (Version::Old, "1", &["a"]),
            (Version::Old, "2", &["a"]),
            (Version::Old, "3", &[]),
        ] {
            rows.add_row(version, &row(&key, id)).unwrap();
            for room in rooms {
                rows.add_room(version, room).unwrap();
            }
        }
        let by_room = rows.by_room().unwrap();
        assert_eq!(by_room, [("b", vec![0]), ("a", vec![0, 1])]);
        let change = rows.change("UPDATE", "s", "t", &by_room[1].1).unwrap();
        assert_eq!(
            change.json(),
            r#"{"op":"UPDATE","schema":"s","table":"t","rows":[{"new":{"id":1},"old":{"id":1}},{"new":{"id":2},"old":{"id":2}}]}"#
        );
        // Its MessagePack, written with it, is what the JSON transcodes to.
        assert_eq!(change.msgpack(), Some(&transcoded(change.json())[..]));
    }

    /// Adds a new row `{"id": id}` in `room`.
    fn add(rows: &mut StatementRows, key: &str, id: &str, room: &str) {
        rows.add_row(Version::New, &row(key, id)).unwrap();
        rows.add_room(Version::New, room).unwrap();
    }

    /// The INSERT message of `room`, the only room, for its one row.
    fn only_insert(rows: &StatementRows, room: &str) -> String {
        let by_room = rows.by_room().unwrap();
        assert_eq!(by_room, [(room, vec![0])]);
        let change = rows.change("INSERT", "s", "t", &by_room[0].1).unwrap();
        change.json().to_owned()
    }

    #[test]
    fn cleared_rows_start_again_and_hold_nothing() {
        let key = member_key("id");
        let mut rows = StatementRows::default();
        add(&mut rows, &key, "1", "a");
        let one_row = rows.held();
        assert!(one_row >= r#"{"id":1}"#.len() + "a".len(), "{one_row}");
        add(&mut rows, &key, "2", "a");
        assert!(rows.held() > one_row);
        rows.clear();
        assert_eq!(rows.held(), 0);
        assert_eq!(rows.by_room().unwrap(), []);
        add(&mut rows, &key, "3", "b");
        assert_eq!(
            only_insert(&rows, "b"),
            r#"{"op":"INSERT","schema":"s","table":"t","rows":[{"new":{"id":3},"old":null}]}"#
        );
    }

    #[test]
    fn an_insert_has_new_rows_only() {
        let key = member_key("id");
        let mut rows = StatementRows::default();
        add(&mut rows, &key, "7", "r");
        assert_eq!(
            only_insert(&rows, "r"),
            r#"{"op":"INSERT","schema":"s","table":"t","rows":[{"new":{"id":7},"old":null}]}"#
        );
    }
}
