fn main() -> std::process::ExitCode {
    azlin_protocol::install_crypto_provider();
    azlin_controller::cli::main()
}
