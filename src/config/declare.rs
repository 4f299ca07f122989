//! The machinery behind the one table of settings in `config`: the `settings!` macro and the
//! kinds of row it accepts. A row names its field, its type and where its value comes from
//! (a flag with its environment variable and default, a flattened group, or a fixed value);
//! from that one row come the struct field, the clap argument, the default that `Config::new`
//! uses, the list of known environment variables and the generated reference.
//!
//! Defaults are not written a second time for `Default`: they are the command line's own
//! defaults, parsed by the same clap parsers from an empty command line with the environment
//! left out, so a default cannot differ between the binary and the tests.

use clap::builder::{TypedValueParser, ValueParser};
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::marker::PhantomData;

/// Whether arguments are built with their environment variables (the command line) or
/// without (the declared defaults, which must not depend on the environment of the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Read,
    Ignore,
}

/// One declared setting as the reference and the check of environment variables see it.
#[derive(Debug, Clone)]
pub struct DeclaredSetting {
    /// The field (and clap argument id) that holds the value.
    pub id: &'static str,
    /// The flag, without its dashes.
    pub long: &'static str,
    pub env: &'static str,
    /// The default as the command line spells it (what `--help` shows), if there is one.
    pub default_value: Option<&'static str>,
    /// The default as the reference shows it.
    pub shown_default: String,
    /// The `--help` line.
    pub help: String,
    /// What the reference adds to the help line.
    pub details: Option<&'static str>,
    /// The flag is accepted by every command, before or after its name.
    pub global: bool,
}

impl DeclaredSetting {
    /// The help line and the details, as one text for the reference.
    pub fn meaning(&self) -> String {
        let help = if self.help.is_empty() {
            String::new()
        } else {
            format!("{}.", self.help)
        };
        match self.details {
            Some(details) if help.is_empty() => details.to_string(),
            Some(details) => format!("{help} {details}"),
            None => help,
        }
    }
}

/// Where one field of a declared struct gets its value. Implemented by the row kinds below;
/// `settings!` calls it once per row.
pub trait Declaration {
    type Value;
    /// Adds the row's arguments (none for a fixed value) to `cmd`.
    fn augment(
        &self,
        cmd: Command,
        id: &'static str,
        doc: &[&'static str],
        environment: Environment,
    ) -> Command;
    /// The row's value from parsed arguments (defaults included).
    fn extract(&self, matches: &ArgMatches, id: &'static str) -> Self::Value;
    /// The settings this row declares, for the reference.
    fn declared(&self, id: &'static str, doc: &[&'static str]) -> Vec<DeclaredSetting>;
}

/// A struct declared with `settings!` without extra constructor arguments: it can be a group
/// inside another one.
pub trait SettingGroup: Sized {
    fn augment_with(cmd: Command, environment: Environment) -> Command;
    fn from_matches(matches: &ArgMatches) -> Self;
    fn declared() -> Vec<DeclaredSetting>;
}

/// The `--help` line of a row, from its doc comment, the way clap's derive makes it (lines of
/// the one paragraph joined by spaces, one trailing period dropped), so `--help` reads as it did
/// when the settings were derived.
pub fn help_line(doc: &[&str]) -> String {
    let mut line = doc
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if line.ends_with('.') && !line.ends_with("..") {
        line.pop();
    }
    line
}

/// A flag with an environment variable: one value (`value`), on/off (`switch`).
pub struct Setting<T> {
    long: &'static str,
    env: &'static str,
    value_name: Option<&'static str>,
    parser: ValueParser,
    action: ArgAction,
    default_value: Option<&'static str>,
    shown_default: Option<&'static str>,
    details: Option<&'static str>,
    global: bool,
    value: PhantomData<fn() -> T>,
}

/// A flag taking one value, read by `parser` (the same parser reads the default).
pub fn value<P>(long: &'static str, env: &'static str, parser: P) -> Setting<P::Value>
where
    P: TypedValueParser,
    P::Value: Clone + Send + Sync + 'static,
{
    Setting {
        long,
        env,
        value_name: None,
        parser: ValueParser::new(parser),
        action: ArgAction::Set,
        default_value: None,
        shown_default: None,
        details: None,
        global: false,
        value: PhantomData,
    }
}

/// An on/off flag, off unless given; its variable takes `true` or `false`.
pub fn switch(long: &'static str, env: &'static str) -> Setting<bool> {
    Setting {
        action: ArgAction::SetTrue,
        ..value(long, env, clap::builder::BoolValueParser::new())
    }
}

impl<T> Setting<T> {
    /// The default, as written on a command line.
    pub fn default(mut self, value: &'static str) -> Self {
        self.default_value = Some(value);
        self
    }

    /// How the reference shows the default, where the raw value says too little.
    pub fn shown_default(mut self, text: &'static str) -> Self {
        self.shown_default = Some(text);
        self
    }

    /// What the reference says beyond the help line.
    pub fn details(mut self, text: &'static str) -> Self {
        self.details = Some(text);
        self
    }

    /// The flag is accepted by every command.
    pub fn global(mut self) -> Self {
        self.global = true;
        self
    }

    /// The placeholder `--help` shows for the value (default: the variable without
    /// `MYPOSTSHARE_`).
    pub fn value_name(mut self, name: &'static str) -> Self {
        self.value_name = Some(name);
        self
    }

    fn arg(&self, id: &'static str, doc: &[&'static str], environment: Environment) -> Arg {
        let value_name = self
            .value_name
            .unwrap_or_else(|| self.env.strip_prefix("MYPOSTSHARE_").unwrap_or(self.env));
        let mut arg = Arg::new(id)
            .long(self.long)
            .value_parser(self.parser.clone())
            .action(self.action.clone())
            .global(self.global);
        if self.action.takes_values() {
            arg = arg.value_name(value_name);
        }
        let help = help_line(doc);
        if !help.is_empty() {
            arg = arg.help(help);
        }
        if environment == Environment::Read {
            arg = arg.env(self.env);
        }
        if let Some(default) = self.default_value {
            arg = arg.default_value(default);
        }
        arg
    }

    fn describe(&self, id: &'static str, doc: &[&'static str]) -> DeclaredSetting {
        let shown_default = match (self.shown_default, self.default_value, &self.action) {
            (Some(text), _, _) => text.to_string(),
            (None, Some(value), _) => format!("`{value}`"),
            (None, None, ArgAction::SetTrue) => "off".to_string(),
            (None, None, _) => "none".to_string(),
        };
        DeclaredSetting {
            id,
            long: self.long,
            env: self.env,
            default_value: self.default_value,
            shown_default,
            help: help_line(doc),
            details: self.details,
            global: self.global,
        }
    }
}

impl<T: Clone + Default + Send + Sync + 'static> Declaration for Setting<T> {
    type Value = T;

    fn augment(
        &self,
        cmd: Command,
        id: &'static str,
        doc: &[&'static str],
        environment: Environment,
    ) -> Command {
        cmd.arg(self.arg(id, doc, environment))
    }

    fn extract(&self, matches: &ArgMatches, id: &'static str) -> T {
        // A setting without a default that was not given takes its type's empty value (no
        // public URL, switch off).
        matches.get_one::<T>(id).cloned().unwrap_or_default()
    }

    fn declared(&self, id: &'static str, doc: &[&'static str]) -> Vec<DeclaredSetting> {
        vec![self.describe(id, doc)]
    }
}

/// A flag taking a comma-separated list (and repeatable), empty unless given.
pub struct List<T> {
    setting: Setting<T>,
}

pub fn list<P>(long: &'static str, env: &'static str, parser: P) -> List<P::Value>
where
    P: TypedValueParser,
    P::Value: Clone + Send + Sync + 'static,
{
    List {
        setting: Setting {
            action: ArgAction::Append,
            ..value(long, env, parser)
        },
    }
}

impl<T> List<T> {
    pub fn details(self, text: &'static str) -> Self {
        Self {
            setting: self.setting.details(text),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Declaration for List<T> {
    type Value = Vec<T>;

    fn augment(
        &self,
        cmd: Command,
        id: &'static str,
        doc: &[&'static str],
        environment: Environment,
    ) -> Command {
        cmd.arg(self.setting.arg(id, doc, environment).value_delimiter(','))
    }

    fn extract(&self, matches: &ArgMatches, id: &'static str) -> Vec<T> {
        matches
            .get_many::<T>(id)
            .map(|values| values.cloned().collect())
            .unwrap_or_default()
    }

    fn declared(&self, id: &'static str, doc: &[&'static str]) -> Vec<DeclaredSetting> {
        vec![self.setting.describe(id, doc)]
    }
}

/// Another declared struct, its flags listed in place.
pub struct Group<G>(PhantomData<fn() -> G>);

pub fn group<G: SettingGroup>() -> Group<G> {
    Group(PhantomData)
}

impl<G: SettingGroup> Declaration for Group<G> {
    type Value = G;

    fn augment(
        &self,
        cmd: Command,
        _id: &'static str,
        _doc: &[&'static str],
        environment: Environment,
    ) -> Command {
        G::augment_with(cmd, environment)
    }

    fn extract(&self, matches: &ArgMatches, _id: &'static str) -> G {
        G::from_matches(matches)
    }

    fn declared(&self, _id: &'static str, _doc: &[&'static str]) -> Vec<DeclaredSetting> {
        G::declared()
    }
}

/// A value the code fixes (not a setting): no flag, no variable, not in the reference.
pub struct Fixed<T>(T);

pub fn fixed<T>(value: T) -> Fixed<T> {
    Fixed(value)
}

impl<T: Clone> Declaration for Fixed<T> {
    type Value = T;

    fn augment(
        &self,
        cmd: Command,
        _: &'static str,
        _: &[&'static str],
        _: Environment,
    ) -> Command {
        cmd
    }

    fn extract(&self, _matches: &ArgMatches, _id: &'static str) -> T {
        self.0.clone()
    }

    fn declared(&self, _id: &'static str, _doc: &[&'static str]) -> Vec<DeclaredSetting> {
        Vec::new()
    }
}

/// A row's source, checked against the row's type (and typed for rows whose source does not
/// say, like `fixed(BTreeMap::new())`).
pub fn row<T, D: Declaration<Value = T>>(source: D) -> D {
    source
}

/// Parses an empty command line with the environment left out: every declared default, read
/// by the parsers that read the command line.
pub fn default_matches(augment: impl FnOnce(Command, Environment) -> Command) -> ArgMatches {
    augment(
        Command::new("defaults").no_binary_name(true),
        Environment::Ignore,
    )
    .try_get_matches_from(Vec::<String>::new())
    .unwrap_or_else(|e| panic!("a declared default does not parse: {e}"))
}

/// Declares a struct of settings: one row per field, `name: Type = source`, where the source is
/// `value(..)`, `switch(..)`, `list(..)`, `group::<G>()` or `fixed(..)` and the field's doc
/// comment is its `--help` line. An optional `given { .. }` block lists fields the caller
/// supplies (they are constructor arguments, not settings).
///
/// Generates the struct, `augment_args` (the clap arguments, in row order), `from_matches`,
/// `defaults` and `declared` (every setting, for the reference); without `given`, also
/// `clap::Args`, `clap::FromArgMatches`, `Default` and `SettingGroup`.
macro_rules! settings {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $fvis:vis $field:ident : $ty:ty = $source:expr
            ),* $(,)?
        }
        given {
            $( $(#[$gmeta:meta])* $gvis:vis $gfield:ident : $gty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$gmeta])* $gvis $gfield: $gty, )*
            $( $(#[doc = $doc])* $fvis $field: $ty, )*
        }

        impl $name {
            /// Adds every setting's argument to `cmd`, with its environment variable.
            pub fn augment_args(cmd: clap::Command) -> clap::Command {
                Self::augment_with(cmd, $crate::config::declare::Environment::Read)
            }

            fn augment_with(
                cmd: clap::Command,
                environment: $crate::config::declare::Environment,
            ) -> clap::Command {
                let mut cmd = cmd;
                $(
                    cmd = $crate::config::declare::Declaration::augment(
                        &$crate::config::declare::row::<$ty, _>($source),
                        cmd,
                        stringify!($field),
                        &[$($doc),*],
                        environment,
                    );
                )*
                cmd
            }

            /// The settings from parsed arguments, with the given fields.
            pub fn from_matches(matches: &clap::ArgMatches, $($gfield: $gty),*) -> Self {
                Self {
                    $( $gfield, )*
                    $(
                        $field: $crate::config::declare::Declaration::extract(
                            &$crate::config::declare::row::<$ty, _>($source),
                            matches,
                            stringify!($field),
                        ),
                    )*
                }
            }

            /// Every setting at its declared default, with the given fields.
            pub fn defaults($($gfield: $gty),*) -> Self {
                let matches = $crate::config::declare::default_matches(Self::augment_with);
                Self::from_matches(&matches, $($gfield),*)
            }

            /// Every setting of this struct (groups expanded), in row order.
            pub fn declared() -> Vec<$crate::config::declare::DeclaredSetting> {
                let mut all = Vec::new();
                $(
                    all.extend($crate::config::declare::Declaration::declared(
                        &$crate::config::declare::row::<$ty, _>($source),
                        stringify!($field),
                        &[$($doc),*],
                    ));
                )*
                all
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident { $($body:tt)* }
    ) => {
        $crate::config::declare::settings! {
            $(#[$meta])*
            $vis struct $name { $($body)* }
            given {}
        }

        impl $crate::config::declare::SettingGroup for $name {
            fn augment_with(
                cmd: clap::Command,
                environment: $crate::config::declare::Environment,
            ) -> clap::Command {
                $name::augment_with(cmd, environment)
            }
            fn from_matches(matches: &clap::ArgMatches) -> Self {
                $name::from_matches(matches)
            }
            fn declared() -> Vec<$crate::config::declare::DeclaredSetting> {
                $name::declared()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::defaults()
            }
        }

        impl clap::FromArgMatches for $name {
            fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
                Ok($name::from_matches(matches))
            }
            fn update_from_arg_matches(
                &mut self,
                matches: &clap::ArgMatches,
            ) -> Result<(), clap::Error> {
                *self = $name::from_matches(matches);
                Ok(())
            }
        }

        impl clap::Args for $name {
            fn augment_args(cmd: clap::Command) -> clap::Command {
                $name::augment_args(cmd)
            }
            fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
                $name::augment_args(cmd)
            }
        }
    };
}

pub(crate) use settings;
