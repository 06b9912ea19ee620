//! Plugins: libraries of functions called over RESP with `FCALL`, as Redis
//! functions are. Implement [`Plugin`] and export it with [`crate::plugin!`].
//!
//! ```no_run
//! use meridian_guest::plugin::{Function, Plugin, Reply};
//! use meridian_guest::counter;
//!
//! struct Hits;
//!
//! impl Plugin for Hits {
//!     const NAME: &'static str = "hits";
//!     const FUNCTIONS: &'static [Function] = &[Function::write("hit")];
//!
//!     fn call(function: &str, keys: Vec<String>, _args: Vec<Vec<u8>>) -> Result<Reply, String> {
//!         match function {
//!             "hit" => {
//!                 let key = keys.first().ok_or("hit needs a key")?;
//!                 Ok(Reply::Integer(counter::incr(key, 1).map_err(|e| e.to_string())?))
//!             }
//!             _ => Err(format!("unknown function {function}")),
//!         }
//!     }
//! }
//!
//! meridian_guest::plugin!(Hits);
//! ```

pub use crate::bindings::plugin::exports::meridian::cache::library::{
    FunctionInfo, Manifest, Reply, Value,
};

/// A function a library declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// Its name (letters, digits, `_`).
    pub name: &'static str,
    /// Callable with `FCALL_RO` (the host refuses its writes).
    pub read_only: bool,
}

impl Function {
    /// A function that may write.
    pub const fn write(name: &'static str) -> Function {
        Function {
            name,
            read_only: false,
        }
    }

    /// A function that only reads.
    pub const fn read_only(name: &'static str) -> Function {
        Function {
            name,
            read_only: true,
        }
    }
}

/// A library of functions.
pub trait Plugin {
    /// The library name (FUNCTION LIST / DELETE; the default key namespace).
    const NAME: &'static str;
    /// Its functions.
    const FUNCTIONS: &'static [Function];
    /// Runs `function` with FCALL's keys and arguments. An `Err` is sent to
    /// the client as an error reply.
    fn call(function: &str, keys: Vec<String>, args: Vec<Vec<u8>>) -> Result<Reply, String>;
}

/// The manifest of `P` (what [`crate::plugin!`] exports as `describe`).
pub fn manifest<P: Plugin>() -> Manifest {
    Manifest {
        name: P::NAME.to_string(),
        functions: P::FUNCTIONS
            .iter()
            .map(|f| FunctionInfo {
                name: f.name.to_string(),
                read_only: f.read_only,
            })
            .collect(),
    }
}

/// Parses an FCALL argument as UTF-8 text.
pub fn text_arg(args: &[Vec<u8>], i: usize) -> Result<&str, String> {
    let a = args
        .get(i)
        .ok_or_else(|| format!("missing argument {}", i + 1))?;
    std::str::from_utf8(a).map_err(|_| format!("argument {} is not UTF-8", i + 1))
}

/// Parses an FCALL argument as a number.
pub fn num_arg<T: std::str::FromStr>(args: &[Vec<u8>], i: usize) -> Result<T, String> {
    text_arg(args, i)?
        .parse()
        .map_err(|_| format!("argument {} is not a valid number", i + 1))
}

/// Exports a [`Plugin`] as the component's `meridian:cache/library`.
#[macro_export]
macro_rules! plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        pub struct __MeridianPluginExport;

        impl $crate::bindings::plugin::exports::meridian::cache::library::Guest
            for __MeridianPluginExport
        {
            fn describe() -> $crate::plugin::Manifest {
                $crate::plugin::manifest::<$plugin>()
            }

            fn call(
                function: String,
                keys: Vec<String>,
                args: Vec<Vec<u8>>,
            ) -> Result<$crate::plugin::Reply, String> {
                <$plugin as $crate::plugin::Plugin>::call(&function, keys, args)
            }
        }

        $crate::bindings::plugin::export_plugin!(__MeridianPluginExport with_types_in $crate::bindings::plugin);
    };
}
