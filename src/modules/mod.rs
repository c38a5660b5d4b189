//! One file per module: its declared parameters, its typed `Params`, and its logic.

pub mod backup;
pub mod capture;
pub mod defaults_merge;
pub mod info;
pub mod lease;
pub mod plan;
pub mod preflight;
pub mod resource;
pub mod upgrade;

#[cfg(test)]
mod tests {
    use crate::runtime::ModuleSpec;

    fn specs() -> [&'static ModuleSpec; 8] {
        [
            &super::backup::SPEC,
            &super::defaults_merge::SPEC,
            &super::info::SPEC,
            &super::lease::SPEC,
            &super::plan::SPEC,
            &super::preflight::SPEC,
            &super::resource::SPEC,
            &super::upgrade::SPEC,
        ]
    }

    /// Choices come from the enums (`choice_enum!`); a default is plain JSON text, so this is
    /// where a default that is not one of them would show.
    #[test]
    fn every_default_of_a_choice_parameter_is_one_of_its_choices() {
        for spec in specs() {
            for p in spec.params.iter().filter(|p| !p.choices.is_empty()) {
                if let Some(d) = p.default {
                    let v: serde_json::Value = serde_json::from_str(d).unwrap();
                    // A list parameter with choices: each element of its default must be one.
                    let items = match &v {
                        serde_json::Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    };
                    for i in items {
                        let s = i.as_str().unwrap_or_default();
                        assert!(
                            p.choices.contains(&s),
                            "{} {}: default {d} is not one of {:?}",
                            spec.name,
                            p.name,
                            p.choices
                        );
                    }
                }
            }
        }
    }
}
