fn main() {
    lkops::runtime::main::<lkops::modules::resource::Resource>()
}
