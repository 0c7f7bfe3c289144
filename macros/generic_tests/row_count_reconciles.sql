{#- Reconciliation: the model's row count plus the compare models' counts equals the total model's count.
    Used to prove that staging loses nothing: raw rows = clean rows + quarantined rows. plus_where (optional) keeps
    only the compare model's rows of one table (the long stg_shop__quarantined_rows holds every raw table's). -#}
{% test row_count_reconciles(model, plus, equals, plus_where=none) %}

with

counts as (

    select
        (select count(*) from {{ model }}) as model_rows,
        (select count(*) from {{ plus }}{% if plus_where %} where {{ plus_where }}{% endif %}) as plus_rows,
        (select count(*) from {{ equals }}) as total_rows

)

select * from counts
where model_rows + plus_rows <> total_rows

{% endtest %}
