{#- Experiments: the per-exposure measures that metric definitions (seed experiment_metrics) may name,
    and the vars experiments_as_of / experiments_data_complete. -#}

{#- The measures of fct_experiment_exposures, in the order of the unpivot of fct_experiment_daily_looks.
    window: an outcome in the attribution window (NULL while the window is open);
    pre:    a pre-period covariate (always known);
    cap_basis: the column whose positive values fix the winsorisation cap of the measure when a metric
               caps it (the same measure over the attribution_days days just before assignment);
               none = the measure is never capped (0/1 measures). -#}
{% macro experiment_measures() -%}
    {{ return([
        {'name': 'converted', 'period': 'window', 'cap_basis': none},
        {'name': 'orders', 'period': 'window', 'cap_basis': 'pre_window_orders'},
        {'name': 'revenue', 'period': 'window', 'cap_basis': 'pre_window_revenue'},
        {'name': 'added_to_cart', 'period': 'window', 'cap_basis': none},
        {'name': 'cart_adds', 'period': 'window', 'cap_basis': 'pre_window_cart_adds'},
        {'name': 'sessions', 'period': 'window', 'cap_basis': 'pre_window_sessions'},
        {'name': 'pre_orders', 'period': 'pre', 'cap_basis': none},
        {'name': 'pre_revenue', 'period': 'pre', 'cap_basis': none},
        {'name': 'pre_cart_adds', 'period': 'pre', 'cap_basis': none},
        {'name': 'pre_sessions', 'period': 'pre', 'cap_basis': none},
    ]) }}
{%- endmacro %}

{#- var experiments_data_complete as a boolean (true, 'true', 'yes', 1 all count). -#}
{% macro experiments_data_complete() -%}
    {{ return(var('experiments_data_complete', false) | string | lower | trim in ['true', '1', 'yes', 'y']) }}
{%- endmacro %}

{#- The end (exclusive) of the data an experiment analysis reads: the end of the data, or midnight after
    var experiments_as_of when that comes first. -#}
{% macro experiments_analysis_ends_at(data_ends_at) -%}
    {%- set as_of = var('experiments_as_of', none) -%}
    {%- if as_of is none or (as_of | string | trim | lower) in ['', 'none', 'null'] -%}
        {{ data_ends_at }}
    {%- else -%}
        least(
            {{ data_ends_at }},
            cast({{ dbt.dateadd('day', 1, "cast('" ~ (as_of | string | trim) ~ "' as timestamp)") }} as timestamp)
        )
    {%- endif -%}
{%- endmacro %}

{#- Whether an exposure's attribution window is closed at analysis_ends_at: it ends before it, or, with var
    experiments_data_complete, the exposure was assigned before it (its window is truncated there). Shared by
    fct_experiment_exposures (outcomes) and int_feature_points (the exposures the uplift models learn from). -#}
{% macro exposure_window_is_closed(assigned_at, window_ends_at, analysis_ends_at) -%}
    {{ window_ends_at }} < {{ analysis_ends_at }}
    {%- if experiments_data_complete() %} or {{ assigned_at }} < {{ analysis_ends_at }}{% endif %}
{%- endmacro %}
