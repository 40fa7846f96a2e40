fn main() {
    println!("gluster-rs");
}
