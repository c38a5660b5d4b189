fn main() {
    lkops::runtime::main::<lkops::modules::defaults_merge::DefaultsMerge>()
}
