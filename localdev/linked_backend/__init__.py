"""The Static Web App's linked-backend hop, emulated: a loopback proxy between the SWA CLI and the Functions app."""
