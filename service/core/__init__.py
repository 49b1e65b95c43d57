"""Pure logic: no Kafka, no Faust, no clocks. State and time come in as arguments."""
