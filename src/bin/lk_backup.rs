fn main() {
    lkops::runtime::main::<lkops::modules::backup::Backup>()
}
