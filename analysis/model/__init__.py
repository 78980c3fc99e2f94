"""The model: the tidy frame in, what the report and the findings say out (the Compare grid,
answers, history, claims, the auto policy, resolution), as DataFrames, dicts and sentences."""
