{#- Reconciliation: the model's row count plus the compare models' counts equals the total model's count.
    Used to prove that staging loses nothing: raw rows = clean rows + quarantined rows. -#}
{% test row_count_reconciles(model, plus, equals) %}

with

counts as (

    select
        (select count(*) from {{ model }}) as model_rows,
        (select count(*) from {{ plus }}) as plus_rows,
        (select count(*) from {{ equals }}) as total_rows

)

select * from counts
where model_rows + plus_rows <> total_rows

{% endtest %}
