fn main() {
    lkops::runtime::main::<lkops::modules::lease::LeaseModule>()
}
