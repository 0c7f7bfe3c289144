-- Every measure a metric definition (seed experiment_metrics) names is a measure of
-- fct_experiment_exposures (macro experiment_measures) of the right period: numerator and denominator
-- in the window, covariate and covariate_denominator in the pre-period; a winsorised numerator must
-- have a pre-window basis for its cap. Returns the offending metric x role rows.
{%- set measures = experiment_measures() %}
with

metric_definitions as (

    select * from {{ ref('experiment_metrics') }}

),

known_measures as (

    {%- for m in measures %}
    select
        '{{ m.name }}' as measure_name,
        '{{ m.period }}' as measure_period,
        {{ 'true' if m.cap_basis else 'false' }} as can_be_capped
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

named as (

    select metric_name, 'numerator' as measure_role, numerator as measure_name, 'window' as expected_period,
        winsorize_percentile is not null as is_capped
    from metric_definitions
    union all
    select metric_name, 'denominator', denominator, 'window', false from metric_definitions
    where denominator is not null
    union all
    select metric_name, 'covariate', covariate, 'pre', false from metric_definitions
    where covariate is not null
    union all
    select metric_name, 'covariate_denominator', covariate_denominator, 'pre', false from metric_definitions
    where covariate_denominator is not null

),

checked as (

    select
        named.metric_name,
        named.measure_role,
        named.measure_name,
        known_measures.measure_period,
        named.expected_period,
        named.is_capped,
        known_measures.can_be_capped

    from named
    left join known_measures
        on named.measure_name = known_measures.measure_name

)

select * from checked
where measure_period is null
    or measure_period <> expected_period
    or (is_capped and not can_be_capped)
