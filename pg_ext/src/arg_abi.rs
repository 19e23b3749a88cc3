//! pgrx's calling convention for the extension's own argument types.

/// `FromDatum` and `ArgAbi` for an argument type made by `$read` (an
/// `unsafe fn(pg_sys::Datum) -> Self`) from a datum that is not NULL; NULL
/// is `None`, which each function refuses by name or takes as its default.
/// Give the type's lifetime, if any, as `'fcx` (`Text<'fcx>`).
macro_rules! datum_arg {
    ($type:ty, $read:expr) => {
        impl<'fcx> pgrx::FromDatum for $type {
            unsafe fn from_polymorphic_datum(
                datum: pgrx::pg_sys::Datum,
                is_null: bool,
                _: pgrx::pg_sys::Oid,
            ) -> Option<Self> {
                // SAFETY: a datum of the argument's type, alive for the call
                // (`$read` may be a safe constructor).
                #[allow(unused_unsafe)]
                (!is_null).then(|| unsafe { $read(datum) })
            }
        }

        unsafe impl<'fcx> pgrx::callconv::ArgAbi<'fcx> for $type {
            unsafe fn unbox_arg_unchecked(arg: pgrx::callconv::Arg<'_, 'fcx>) -> Self {
                let index = arg.index();
                unsafe { arg.unbox_arg_using_from_datum() }
                    .unwrap_or_else(|| panic!("argument {index} must not be null"))
            }

            unsafe fn unbox_nullable_arg(
                arg: pgrx::callconv::Arg<'_, 'fcx>,
            ) -> pgrx::nullable::Nullable<Self> {
                unsafe { arg.unbox_arg_using_from_datum() }.into()
            }
        }
    };
}

pub(crate) use datum_arg;
