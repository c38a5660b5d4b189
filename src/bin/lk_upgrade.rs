fn main() {
    lkops::runtime::main::<lkops::modules::upgrade::Upgrade>()
}
