fn main() {
    println!("lksim: not yet");
}
