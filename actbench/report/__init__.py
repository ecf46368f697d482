"""Reports over run folders: reading runs (`groups`), comparisons with a baseline, robustness and
corruption sections, and their rendering (text and markdown tables, figures, HTML); `build` assembles them."""
