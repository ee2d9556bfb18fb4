//! The value parsers of the command line: numbers in ranges, finite numbers in
//! ranges, comma-separated lists (no empty item, no repeat), scheme and skew
//! names. A value they refuse is a clap error naming the flag and the value.

use std::ffi::OsStr;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Arg, Command};

use crate::run::driver::{ChurnKind, Skew, Stall};
use crate::run::{FaultWork, Flavour, Policy};

/// A whole number in `min..=max`.
pub fn whole(min: u64, max: u64) -> impl TypedValueParser<Value = u64> {
    move |value: &str| -> Result<u64, String> {
        match value.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(format!("not a whole number in {min}..={max}")),
        }
    }
}

/// A whole number in `min..=max`, as a `usize`.
pub fn count(min: u64, max: u64) -> impl TypedValueParser<Value = usize> {
    // The bounds are far below usize::MAX on every target this runs on.
    whole(min, max).map(|n| n as usize)
}

/// A sampling rate, "every Nth": a whole number in `1..=2^30` (0 would time
/// nothing and is refused, naming the value).
pub fn every() -> impl TypedValueParser<Value = u32> {
    // At most 2^30: fits.
    whole(1, 1 << 30).map(|n| n as u32)
}

/// A finite number in `min..=max` (NaN and infinities are refused).
pub fn real(min: f64, max: f64) -> impl TypedValueParser<Value = f64> {
    move |value: &str| -> Result<f64, String> {
        match value.parse::<f64>() {
            Ok(x) if x.is_finite() && (min..=max).contains(&x) => Ok(x),
            _ => Err(format!("not a number in {min}..={max}")),
        }
    }
}

/// A stalled reader, `MS:EVERY_MS`: parks of MS milliseconds, one every
/// EVERY_MS, each a finite number above 0 and at most an hour. Whether they
/// fit the run is `RunSpec::check`'s question.
pub fn stall() -> impl TypedValueParser<Value = Stall> {
    move |value: &str| -> Result<Stall, String> {
        let ms = |v: &str| match v.trim().parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 && x <= 3_600_000.0 => {
                Ok(std::time::Duration::from_secs_f64(x / 1000.0))
            }
            _ => Err(format!(
                "'{v}' is not a number of milliseconds in (0, 3600000]"
            )),
        };
        let (park, every) = value
            .split_once(':')
            .ok_or_else(|| "not MS:EVERY_MS (e.g. 10:100)".to_string())?;
        Ok(Stall {
            park: ms(park)?,
            every: ms(every)?,
        })
    }
}

/// A scheme (free policy) name from the registry (`vma-bench schemes --all`).
pub fn policy() -> impl TypedValueParser<Value = Policy> {
    PossibleValuesParser::new(Policy::ALL.map(|p| PossibleValue::new(p.name())))
        .try_map(|name| Policy::parse(&name).ok_or("not a scheme"))
}

/// An RCU flavour name (`epoch`, `seize`, `urcu-memb`, `urcu-qsbr`).
pub fn flavour() -> impl TypedValueParser<Value = Flavour> {
    PossibleValuesParser::new(Flavour::ALL.map(|f| PossibleValue::new(f.name())))
        .try_map(|name| Flavour::parse(&name).ok_or("not a flavour"))
}

/// A skew name: `uniform`, `hot` or `private`.
pub fn skew() -> impl TypedValueParser<Value = Skew> {
    PossibleValuesParser::new(Skew::ALL.map(|k| PossibleValue::new(k.name())))
        .try_map(|name| Skew::parse(&name).ok_or("not a skew"))
}

/// A churn kind: `replace` or `unmap-map`.
pub fn churn_kind() -> impl TypedValueParser<Value = ChurnKind> {
    PossibleValuesParser::new(ChurnKind::ALL.map(|k| PossibleValue::new(k.name())))
        .try_map(|name| ChurnKind::parse(&name).ok_or("not a churn kind"))
}

/// A fault's work: `light` or `page`.
pub fn fault_work() -> impl TypedValueParser<Value = FaultWork> {
    PossibleValuesParser::new(FaultWork::ALL.map(|w| PossibleValue::new(w.name())))
        .try_map(|name| FaultWork::parse(&name).ok_or("not a fault work"))
}

/// The values of a comma-separated list, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct List<T>(pub Vec<T>);

/// A comma-separated list whose items the inner parser parses; an empty item
/// and an item listed twice are refused.
#[derive(Clone, Debug)]
pub struct ListOf<P>(pub P);

impl<P> TypedValueParser for ListOf<P>
where
    P: TypedValueParser,
    P::Value: PartialEq,
{
    type Value = List<P::Value>;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let text = value
            .to_str()
            .ok_or_else(|| clap::Error::new(ErrorKind::InvalidUtf8).with_cmd(cmd))?;
        let refuse = |why: String| {
            let flag = arg.map_or_else(String::new, |a| format!(" for '{a}'"));
            let message = format!("invalid value '{text}'{flag}: {why}\n");
            clap::Error::raw(ErrorKind::ValueValidation, message).with_cmd(cmd)
        };
        let mut items = Vec::new();
        for item in text.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(refuse("an empty item".into()));
            }
            let v = self.0.parse_ref(cmd, arg, OsStr::new(item))?;
            if items.contains(&v) {
                return Err(refuse(format!("'{item}' is listed twice")));
            }
            items.push(v);
        }
        Ok(List(items))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        self.0.possible_values()
    }
}
