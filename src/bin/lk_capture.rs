fn main() {
    lkops::runtime::main::<lkops::modules::capture::CaptureModule>()
}
