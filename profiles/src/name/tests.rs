//! The grammar's tests: every accepted name prints back to itself, and each malformed one
//! gets the error that names its fault.

use super::*;
use proptest::prelude::*;

fn err(s: &str) -> NameError {
    ProfileName::parse_bytes(s.as_bytes()).expect_err(s)
}

#[test]
fn parses_every_form_nvidia_uses() {
    for s in [
        "1g.5gb",
        "7g.40gb",
        "1c.3g.20gb",
        "4c.4g.20gb",
        "1g.5gb+me",
        "1g.10gb+me.all",
        "1g.24gb-me",
        "1g.24gb+gfx",
        "1g.24gb+me,gfx",
        "2g.48gb+me.all",
        "7g.278gb",
    ] {
        let n: ProfileName = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(n.to_string(), s);
    }
}

#[test]
fn errors_name_the_position() {
    assert_eq!(
        err(""),
        NameError {
            position: 0,
            kind: NameErrorKind::Empty
        }
    );
    assert_eq!(err("g.5gb").position, 0);
    assert_eq!(
        err("1g5gb"),
        NameError {
            position: 1,
            kind: NameErrorKind::Expected("g.")
        }
    );
    assert_eq!(
        err("1g.5"),
        NameError {
            position: 4,
            kind: NameErrorKind::Expected("gb")
        }
    );
    assert_eq!(err("01g.5gb").kind, NameErrorKind::LeadingZeroOrZero);
    assert_eq!(
        err("1g.0gb"),
        NameError {
            position: 3,
            kind: NameErrorKind::LeadingZeroOrZero
        }
    );
    assert_eq!(
        err("1g.5gb+foo"),
        NameError {
            position: 7,
            kind: NameErrorKind::UnknownAttribute
        }
    );
    assert_eq!(
        err("1g.5gb+gfx,me"),
        NameError {
            position: 11,
            kind: NameErrorKind::AttributeOrder
        }
    );
    assert_eq!(err("1g.5gb+gfx,gfx").kind, NameErrorKind::AttributeOrder);
    assert_eq!(
        err("1g.5gb+me,me.all").kind,
        NameErrorKind::ConflictingAttributes
    );
    assert_eq!(
        err("1g.5gb+me-me"),
        NameError {
            position: 9,
            kind: NameErrorKind::ConflictingAttributes
        }
    );
    assert_eq!(
        err("1g.5gb-gfx"),
        NameError {
            position: 6,
            kind: NameErrorKind::Expected("-me")
        }
    );
    assert_eq!(
        err("4c.3g.20gb").kind,
        NameErrorKind::ComputeExceedsGpuInstance
    );
    assert_eq!(
        err("1g.5gb "),
        NameError {
            position: 6,
            kind: NameErrorKind::TrailingInput
        }
    );
    assert_eq!(err("256g.5gb").kind, NameErrorKind::NumberTooLarge);
    assert_eq!(err("1g.65536gb").kind, NameErrorKind::NumberTooLarge);
    assert_eq!(err("1g.5gb+mex").kind, NameErrorKind::UnknownAttribute);
}

#[test]
fn error_message_names_input_and_position() {
    let e = "1g.5gb+foo"
        .parse::<ProfileName>()
        .expect_err("bad attribute");
    let msg = e.to_string();
    assert!(
        msg.contains("1g.5gb+foo") && msg.contains("byte 7"),
        "{msg}"
    );
}

#[test]
fn nvml_names() {
    let n = ProfileName::from_nvml_name("MIG 1g.10gb+me").expect("valid");
    assert_eq!(n.to_string(), "1g.10gb+me");
    match ProfileName::from_nvml_name("MIG 1g.10") {
        Err(Error::InvalidProfileName { position, .. }) => assert_eq!(position, 9),
        other => panic!("{other:?}"),
    }
}

fn arb_name() -> impl Strategy<Value = ProfileName> {
    (1u8..=8, prop::option::of(1u8..=8), 1u16..=400, 0u8..6).prop_map(|(g, c, gb, a)| {
        let attributes = [
            Attributes::empty(),
            Attributes::ME,
            Attributes::ME_ALL,
            Attributes::GFX,
            Attributes::ME | Attributes::GFX,
            Attributes::NO_ME,
        ][a as usize];
        ProfileName::new(c.map(|c| c.min(g)), g, gb, attributes).expect("valid parts")
    })
}

proptest! {
    #[test]
    fn print_then_parse_round_trips(n in arb_name()) {
        let s = n.to_string();
        let back: ProfileName = s.parse().expect("printed names parse");
        prop_assert_eq!(back, n);
        prop_assert!(back.const_eq(&n));
    }

    #[test]
    fn parse_then_print_is_identity_and_never_panics(s in "[0-9cgbme.+,\\-fxal]{0,24}") {
        if let Ok(n) = s.parse::<ProfileName>() {
            prop_assert_eq!(n.to_string(), s);
        }
    }

    #[test]
    fn new_accepts_exactly_what_parses(c in prop::option::of(0u8..10), g in 0u8..10, gb in 0u16..3, a in 0u8..16) {
        let attributes = Attributes::from_bits_truncate(a);
        match ProfileName::new(c, g, gb, attributes) {
            Ok(n) => prop_assert_eq!(n.to_string().parse::<ProfileName>().ok(), Some(n)),
            Err(_) => {
                let printed = format!(
                    "{}{g}g.{gb}gb",
                    c.map(|c| format!("{c}c.")).unwrap_or_default()
                );
                let parsed = printed.parse::<ProfileName>();
                prop_assert!(parsed.is_err() || attributes.bits().count_ones() > 1, "{}", printed);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        let _ = ProfileName::parse_bytes(&bytes);
    }
}
