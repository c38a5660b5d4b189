fn main() {
    lkops::runtime::main::<lkops::modules::preflight::Preflight>()
}
