fn main() {
    lkops::runtime::main::<lkops::modules::info::InfoModule>()
}
