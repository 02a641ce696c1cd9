"""What a study's runs are turned into: tables, text formats, figures and one HTML report."""
