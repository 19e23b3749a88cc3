//! Growing a buffer whose size depends on the data (a statement's rows, a
//! large argument's plan) without aborting when memory runs out: Rust's
//! infallible allocation aborts the process, which in a PostgreSQL backend
//! sends the whole server through crash recovery. These report an
//! [`Error::OutOfMemory`] instead, which the extension raises as an ERROR
//! (53200) of the one statement.

use crate::Error;

/// Makes room for `additional` more elements of `vec` (growing as `push`
/// does, by doubling).
pub(crate) fn reserve<T>(
    vec: &mut Vec<T>,
    additional: usize,
    what: &'static str,
) -> Result<(), Error> {
    vec.try_reserve(additional).map_err(|_| Error::OutOfMemory {
        what,
        bytes: additional.saturating_mul(size_of::<T>()),
    })
}

/// `vec.push(value)`, or the error when there is no memory for it.
pub(crate) fn push<T>(vec: &mut Vec<T>, value: T, what: &'static str) -> Result<(), Error> {
    reserve(vec, 1, what)?;
    vec.push(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_can_be_had_is_an_error_not_an_abort() {
        let mut v: Vec<u64> = Vec::new();
        let err = reserve(&mut v, usize::MAX / 16, "a test buffer").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "out of memory: could not allocate {} more bytes for a test buffer",
                (usize::MAX / 16) * 8
            )
        );
        push(&mut v, 7, "a test buffer").unwrap();
        assert_eq!(v, [7]);
    }
}
