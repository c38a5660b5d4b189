fn main() {
    lkops::runtime::main::<lkops::modules::plan::PlanModule>()
}
