"""wifi-connect: captive-portal WiFi onboarding over NetworkManager."""
